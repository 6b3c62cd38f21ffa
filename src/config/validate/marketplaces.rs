//! `[[marketplaces]]`: each entry's id (unique), kind, location in its kind's shape, and the settings only some kinds
//! have.

use std::collections::BTreeMap;

use figment::value::Value;
use skillport_sources::archive::ArchiveFormat;
use skillport_sources::Layout;

use super::Loader;
use crate::config::model::MarketplaceConfig;
use crate::config::names::{MarketplaceId, SourceKind};
use crate::config::raw::{KeyPath, RawMarketplace};
use crate::config::values::{check_location, MIN_WEBHOOK_SECRET_LEN};

impl Loader<'_> {
    pub(super) fn marketplaces(&mut self) -> Option<Vec<MarketplaceConfig>> {
        let path = KeyPath::default().key("marketplaces");
        let items = match self.lookup(&path) {
            Some(Value::Array(_, items)) if !items.is_empty() => items,
            Some(Value::Array(..)) | None => {
                self.fail(&path, "no marketplace is configured; add a [[marketplaces]] table to config/skillport.toml");
                return None;
            }
            Some(_) => {
                self.fail(&path, "must be a list of marketplace tables ([[marketplaces]])");
                return None;
            }
        };
        let before = self.errors.len();
        let mut first_use: BTreeMap<MarketplaceId, usize> = BTreeMap::new();
        let mut out = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let at = path.index(index);
            if let Some(raw) = self.parse::<RawMarketplace>(&at, item) {
                if let Some(marketplace) = self.marketplace(&at, index, raw, &mut first_use) {
                    out.push(marketplace);
                }
            }
        }
        (self.errors.len() == before).then_some(out)
    }

    fn marketplace(
        &mut self,
        path: &KeyPath,
        index: usize,
        raw: RawMarketplace,
        first_use: &mut BTreeMap<MarketplaceId, usize>,
    ) -> Option<MarketplaceConfig> {
        let before = self.errors.len();

        let id_path = path.key("id");
        let id = self
            .required_text(&id_path, raw.id)
            .and_then(|id| self.check(&id_path, id.parse::<MarketplaceId>().map_err(|e| e.to_string())));
        if let Some(id) = &id {
            match first_use.get(id) {
                Some(first) => self
                    .fail(&id_path, format!("duplicate marketplace id `{id}` (first used by marketplaces[{first}])")),
                None => {
                    first_use.insert(id.clone(), index);
                }
            }
        }

        let kind_path = path.key("kind");
        let kind = self.required_text(&kind_path, raw.kind).and_then(|kind| {
            let known = SourceKind::parse(&kind).ok_or_else(|| {
                format!(
                    "unknown marketplace kind `{kind}`; expected one of {}",
                    SourceKind::ALL.map(SourceKind::as_str).join(", ")
                )
            });
            self.check(&kind_path, known)
        });

        let location_path = path.key("location");
        let location = self.required_text(&location_path, raw.location);
        if let (Some(kind), Some(location)) = (kind, &location) {
            self.check(&location_path, check_location(kind, location));
        }

        let ref_path = path.key("ref");
        let git_ref = self.optional_text(&ref_path, raw.git_ref);
        if let (Some(kind), Some(_)) = (kind, &git_ref) {
            if !kind.is_git_host() {
                self.fail(&ref_path, format!("only {} marketplaces have a ref, not {kind}", git_host_names()));
            }
        }

        let token_path = path.key("token_secret");
        let token_secret = self.optional_text(&token_path, raw.token_secret);
        let mut token = None;
        if let Some(name) = &token_secret {
            if kind == Some(SourceKind::Bundled) {
                self.fail(&token_path, "a bundled marketplace is read from the Worker itself and takes no token");
            } else {
                token = self.secret(&token_path, name);
            }
        }

        let api_path = path.key("api_base");
        let mut api_base = None;
        if let Some(text) = self.optional_text(&api_path, raw.api_base) {
            match kind {
                Some(kind) if !kind.is_git_host() => {
                    self.fail(
                        &api_path,
                        format!("only {} marketplaces have an api_base, not {kind}", git_host_names()),
                    );
                }
                _ => api_base = self.web_url(&api_path, &text, false),
            }
        }

        let hook_path = path.key("webhook_secret");
        let webhook_secret = self.optional_text(&hook_path, raw.webhook_secret);
        let mut webhook_key = None;
        if let Some(name) = &webhook_secret {
            if kind == Some(SourceKind::Bundled) {
                self.fail(&hook_path, "a bundled marketplace is built into the Worker and never changes: no webhook");
            } else {
                webhook_key = self.secret(&hook_path, name);
                if webhook_key.as_ref().is_some_and(|k| k.expose().len() < MIN_WEBHOOK_SECRET_LEN) {
                    self.fail(
                        &hook_path,
                        format!(
                            "names a secret shorter than {MIN_WEBHOOK_SECRET_LEN} characters, which anyone could \
                             guess: `openssl rand -hex 32 | wrangler secret put {name}`"
                        ),
                    );
                    webhook_key = None;
                }
            }
        }

        let layout_path = path.key("layout");
        let mut layout = Layout::Auto;
        if let Some(text) = self.optional_text(&layout_path, raw.layout) {
            match Layout::parse(&text) {
                None => self.fail(
                    &layout_path,
                    format!("unknown layout `{text}`; expected one of {}", Layout::NAMES.join(", ")),
                ),
                Some(l @ (Layout::Plugin | Layout::Skills))
                    if kind == Some(SourceKind::Https)
                        && location.as_deref().is_some_and(|u| ArchiveFormat::from_url(u).is_none()) =>
                {
                    self.fail(
                        &layout_path,
                        format!(
                            "an https marketplace that is not an archive (.zip, .tar.gz, .tgz) is read file by file from \
                             its marketplace.json, so it cannot have layout `{l}`; serve the repository as an archive"
                        ),
                    )
                }
                Some(l) => layout = l,
            }
        }

        if self.errors.len() != before {
            return None;
        }
        Some(MarketplaceConfig {
            id: id?,
            kind: kind?,
            location: location?,
            git_ref,
            token_secret,
            token,
            api_base,
            webhook_secret,
            webhook_key,
            layout,
        })
    }
}

/// The kinds that have refs, tokens and self-hosted API bases, as a sentence names them: `github and gitlab`.
fn git_host_names() -> String {
    let names: Vec<&str> = SourceKind::ALL.into_iter().filter(|k| k.is_git_host()).map(SourceKind::as_str).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}
