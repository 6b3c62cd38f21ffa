//! The JSON formats of Claude Code marketplaces and plugins, as serde types.
//!
//! Follows `.claude-plugin/marketplace.json` and `.claude-plugin/plugin.json` as documented at
//! <https://code.claude.com/docs/en/plugin-marketplaces> and `plugins-reference`. The format grows often, so every
//! object keeps the fields this crate does not know in `extra` and writes them back: reading and re-writing a manifest
//! loses nothing. Fields whose shape varies a lot (hooks, MCP servers, ...) are kept as raw JSON; the connector
//! only reports them.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// `.claude-plugin/marketplace.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketplaceManifest {
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Person>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MarketplaceMetadata>,
    /// Old plugin name -> new name, for plugins that were renamed in this marketplace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub renames: BTreeMap<String, String>,
    /// Raw entries: each is parsed on its own ([`PluginEntry`]) so one malformed entry cannot fail the file.
    pub plugins: Vec<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `metadata` of a marketplace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MarketplaceMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Folder prepended to relative plugin sources that do not start with `./` or `../`.
    #[serde(rename = "pluginRoot", default, skip_serializing_if = "Option::is_none")]
    pub plugin_root: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `author` or `owner`: written either as a plain string (`"Jane"`) or as `{name, email, url}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Person {
    pub name: String,
    pub email: Option<String>,
    pub url: Option<String>,
    pub extra: Map<String, Value>,
    /// It was written as a bare string; kept so that re-serialising gives back the same shape.
    pub as_string: bool,
}

#[derive(Serialize, Deserialize)]
struct PersonObject<N> {
    name: N,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for Person {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(name) => Ok(Person { name, as_string: true, ..Person::default() }),
            object @ Value::Object(_) => {
                let PersonObject { name, email, url, extra } =
                    serde_json::from_value::<PersonObject<String>>(object).map_err(D::Error::custom)?;
                Ok(Person { name, email, url, extra, as_string: false })
            }
            other => Err(D::Error::custom(format!(
                "a person must be a name string or an object with `name`, not {}",
                json_type(&other)
            ))),
        }
    }
}

impl Serialize for Person {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.as_string && self.email.is_none() && self.url.is_none() && self.extra.is_empty() {
            return serializer.serialize_str(&self.name);
        }
        // Borrowed fields would need a second helper type; a person is a few short strings, cloning is cheaper to read.
        PersonObject { name: &self.name, email: self.email.clone(), url: self.url.clone(), extra: self.extra.clone() }
            .serialize(serializer)
    }
}

/// One path or a list of paths (`"skills": "./x"` or `"skills": ["./x", "./y"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathList {
    One(String),
    Many(Vec<String>),
}

impl PathList {
    pub fn paths(&self) -> Vec<&str> {
        match self {
            PathList::One(path) => vec![path.as_str()],
            PathList::Many(paths) => paths.iter().map(String::as_str).collect(),
        }
    }
}

impl<'de> Deserialize<'de> for PathList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expected = "expected a path string or an array of path strings";
        match Value::deserialize(deserializer)? {
            Value::String(path) => Ok(PathList::One(path)),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(path) => Ok(path),
                    other => Err(D::Error::custom(format!("{expected}, found {} in the array", json_type(&other)))),
                })
                .collect::<Result<_, _>>()
                .map(PathList::Many),
            other => Err(D::Error::custom(format!("{expected}, found {}", json_type(&other)))),
        }
    }
}

impl Serialize for PathList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PathList::One(path) => serializer.serialize_str(path),
            PathList::Many(paths) => paths.serialize(serializer),
        }
    }
}

/// One entry of `plugins` in marketplace.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginEntry {
    pub name: String,
    pub source: PluginSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Person>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// A URL string or an object such as `{"type": "git", "url": ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `true` (the default): plugin.json is the authority and the entry supplements it. `false`: the entry is the
    /// whole definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<PathList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsp_servers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_styles: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surfaces: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PluginEntry {
    /// `strict` with its default applied.
    pub fn is_strict(&self) -> bool {
        self.strict.unwrap_or(true)
    }

    /// Names of the component fields this entry declares (`skills`, `commands`, ...), as written in JSON.
    pub fn declared_components(&self) -> Vec<&'static str> {
        declared([
            self.commands.is_some(),
            self.agents.is_some(),
            self.skills.is_some(),
            self.hooks.is_some(),
            self.mcp_servers.is_some(),
            self.lsp_servers.is_some(),
            self.output_styles.is_some(),
        ])
    }
}

/// The component fields a marketplace entry or a plugin.json may declare, as written in JSON, in one order.
const COMPONENTS: [&str; 7] = ["commands", "agents", "skills", "hooks", "mcpServers", "lspServers", "outputStyles"];

/// The names of the [`COMPONENTS`] whose flag is set.
fn declared(flags: [bool; 7]) -> Vec<&'static str> {
    COMPONENTS.into_iter().zip(flags).filter_map(|(name, set)| set.then_some(name)).collect()
}

/// `.claude-plugin/plugin.json` inside a plugin folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginManifest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Person>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<PathList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsp_servers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_styles: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PluginManifest {
    /// Names of the component fields this manifest declares (`skills`, `commands`, ...), as written in JSON.
    pub fn declared_components(&self) -> Vec<&'static str> {
        declared([
            self.commands.is_some(),
            self.agents.is_some(),
            self.skills.is_some(),
            self.hooks.is_some(),
            self.mcp_servers.is_some(),
            self.lsp_servers.is_some(),
            self.output_styles.is_some(),
        ])
    }
}

/// Where a plugin's files come from: a plain string is a path inside the marketplace, an object names its kind in
/// `"source"`. Unknown fields of each object are kept in `extra`; an unknown kind is kept whole in `Other`.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginSource {
    /// `"./plugins/x"`: a folder of this marketplace.
    Relative(String),
    /// `{"source": "github", "repo": "owner/name", "ref"?, "sha"?, "path"?}`
    Github {
        repo: String,
        git_ref: Option<String>,
        sha: Option<String>,
        path: Option<String>,
        extra: Map<String, Value>,
    },
    /// `{"source": "url", "url": "https://host/x.git", "ref"?, "sha"?}`: any git URL.
    Url { url: String, git_ref: Option<String>, sha: Option<String>, extra: Map<String, Value> },
    /// `{"source": "git-subdir", "url", "path", "ref"?, "sha"?}`: one folder of a git repository.
    GitSubdir { url: String, path: String, git_ref: Option<String>, sha: Option<String>, extra: Map<String, Value> },
    /// `{"source": "npm", "package", "version"?, "registry"?}`
    Npm { package: String, version: Option<String>, registry: Option<String>, extra: Map<String, Value> },
    /// `{"source": "pip", "package", "version"?, "registry"?}`
    Pip { package: String, version: Option<String>, registry: Option<String>, extra: Map<String, Value> },
    /// `{"source": "archive", "url", "sha256"?}`: a tarball or zip.
    Archive { url: String, sha256: Option<String>, extra: Map<String, Value> },
    /// Any other `"source"` kind, kept verbatim (including the `"source"` field) in `raw`.
    Other { kind: String, raw: Value },
}

impl PluginSource {
    /// "relative", "github", "url", "git-subdir", "npm", "pip", "archive", or the unknown kind as written.
    pub fn kind(&self) -> &str {
        match self {
            PluginSource::Relative(_) => "relative",
            PluginSource::Github { .. } => "github",
            PluginSource::Url { .. } => "url",
            PluginSource::GitSubdir { .. } => "git-subdir",
            PluginSource::Npm { .. } => "npm",
            PluginSource::Pip { .. } => "pip",
            PluginSource::Archive { .. } => "archive",
            PluginSource::Other { kind, .. } => kind,
        }
    }

    /// A short human description for messages, e.g. ``"`git-subdir` (https://github.com/x/y.git, path plugins/z)"``.
    pub fn describe(&self) -> String {
        let at = |r: &Option<String>| r.as_deref().map(|r| format!(" at {r}")).unwrap_or_default();
        let detail = match self {
            PluginSource::Relative(path) => path.clone(),
            PluginSource::Github { repo, git_ref, path, .. } => {
                let path = path.as_deref().map(|p| format!(", path {p}")).unwrap_or_default();
                format!("{repo}{}{path}", at(git_ref))
            }
            PluginSource::Url { url, git_ref, .. } => format!("{url}{}", at(git_ref)),
            PluginSource::GitSubdir { url, path, git_ref, .. } => format!("{url}{}, path {path}", at(git_ref)),
            PluginSource::Npm { package, version, .. } | PluginSource::Pip { package, version, .. } => {
                version.as_deref().map(|v| format!("{package} {v}")).unwrap_or_else(|| package.clone())
            }
            PluginSource::Archive { url, .. } => url.clone(),
            PluginSource::Other { raw, .. } => raw.to_string(),
        };
        format!("`{}` ({detail})", self.kind())
    }

    fn from_value(value: Value) -> Result<Self, String> {
        let mut map = match value {
            Value::String(path) => return Ok(PluginSource::Relative(path)),
            Value::Object(map) => map,
            other => {
                return Err(format!("a plugin source must be a path string or an object, not {}", json_type(&other)))
            }
        };
        let kind = match map.get("source") {
            Some(Value::String(kind)) => kind.clone(),
            Some(other) => return Err(format!("plugin source `source` must be a string, not {}", json_type(other))),
            None => return Err("plugin source object has no `source` kind".to_string()),
        };
        if !KNOWN_KINDS.contains(&kind.as_str()) {
            return Ok(PluginSource::Other { kind, raw: Value::Object(map) });
        }
        map.remove("source");
        let m = &mut map;
        let source = match kind.as_str() {
            "github" => PluginSource::Github {
                repo: required(m, &kind, "repo")?,
                git_ref: optional(m, &kind, "ref")?,
                sha: optional(m, &kind, "sha")?,
                path: optional(m, &kind, "path")?,
                extra: Map::new(),
            },
            "url" => PluginSource::Url {
                url: required(m, &kind, "url")?,
                git_ref: optional(m, &kind, "ref")?,
                sha: optional(m, &kind, "sha")?,
                extra: Map::new(),
            },
            "git-subdir" => PluginSource::GitSubdir {
                url: required(m, &kind, "url")?,
                path: required(m, &kind, "path")?,
                git_ref: optional(m, &kind, "ref")?,
                sha: optional(m, &kind, "sha")?,
                extra: Map::new(),
            },
            "npm" | "pip" => {
                let (package, version, registry) =
                    (required(m, &kind, "package")?, optional(m, &kind, "version")?, optional(m, &kind, "registry")?);
                if kind == "npm" {
                    PluginSource::Npm { package, version, registry, extra: Map::new() }
                } else {
                    PluginSource::Pip { package, version, registry, extra: Map::new() }
                }
            }
            _ => PluginSource::Archive {
                url: required(m, &kind, "url")?,
                sha256: optional(m, &kind, "sha256")?,
                extra: Map::new(),
            },
        };
        Ok(source.with_extra(map))
    }

    fn with_extra(mut self, rest: Map<String, Value>) -> Self {
        match &mut self {
            PluginSource::Github { extra, .. }
            | PluginSource::Url { extra, .. }
            | PluginSource::GitSubdir { extra, .. }
            | PluginSource::Npm { extra, .. }
            | PluginSource::Pip { extra, .. }
            | PluginSource::Archive { extra, .. } => *extra = rest,
            PluginSource::Relative(_) | PluginSource::Other { .. } => {}
        }
        self
    }

    fn to_value(&self) -> Value {
        let (mut map, fields): (Map<String, Value>, Vec<Field>) = match self {
            PluginSource::Relative(path) => return Value::String(path.clone()),
            PluginSource::Other { raw, .. } => return raw.clone(),
            PluginSource::Github { repo, git_ref, sha, path, extra } => (
                extra.clone(),
                vec![("repo", Some(repo)), ("ref", git_ref.as_ref()), ("sha", sha.as_ref()), ("path", path.as_ref())],
            ),
            PluginSource::Url { url, git_ref, sha, extra } => {
                (extra.clone(), vec![("url", Some(url)), ("ref", git_ref.as_ref()), ("sha", sha.as_ref())])
            }
            PluginSource::GitSubdir { url, path, git_ref, sha, extra } => (
                extra.clone(),
                vec![("url", Some(url)), ("path", Some(path)), ("ref", git_ref.as_ref()), ("sha", sha.as_ref())],
            ),
            PluginSource::Npm { package, version, registry, extra }
            | PluginSource::Pip { package, version, registry, extra } => (
                extra.clone(),
                vec![("package", Some(package)), ("version", version.as_ref()), ("registry", registry.as_ref())],
            ),
            PluginSource::Archive { url, sha256, extra } => {
                (extra.clone(), vec![("url", Some(url)), ("sha256", sha256.as_ref())])
            }
        };
        map.insert("source".to_string(), Value::String(self.kind().to_string()));
        for (key, value) in fields {
            if let Some(value) = value {
                map.insert(key.to_string(), Value::String(value.clone()));
            }
        }
        Value::Object(map)
    }
}

/// A key of a source object and its value, if set.
type Field<'a> = (&'static str, Option<&'a String>);

const KNOWN_KINDS: [&str; 6] = ["github", "url", "git-subdir", "npm", "pip", "archive"];

fn required(map: &mut Map<String, Value>, kind: &str, key: &str) -> Result<String, String> {
    optional(map, kind, key)?.ok_or_else(|| format!("`{kind}` plugin source has no `{key}`"))
}

fn optional(map: &mut Map<String, Value>, kind: &str, key: &str) -> Result<Option<String>, String> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(other) => Err(format!("`{key}` of a `{kind}` plugin source must be a string, not {}", json_type(&other))),
    }
}

impl<'de> Deserialize<'de> for PluginSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        PluginSource::from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl Serialize for PluginSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
