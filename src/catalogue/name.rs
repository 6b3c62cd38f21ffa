//! The names users and access rules give plugins and skills: `plugin@marketplace`, a bare `plugin`, and either with
//! `/skill` after it. This is the one place such a name is split into its parts or written from them, so every
//! listing, lookup, update check and access rule reads and prints them the same way.
//!
//! A name is split at its last `@` (a plugin name may hold an `@`, a marketplace id never does) and, when a skill is
//! allowed, first at its first `/`. Nothing here checks that the parts exist: resolving a name against the catalogue
//! is `View::find` and `updates`'; checking a marketplace id's shape is `config::MarketplaceId`'s.

use std::fmt;

/// A plugin, or one skill of it, by name: `plugin`, `plugin@marketplace`, `plugin/skill` or
/// `plugin@marketplace/skill`. Borrowed from the text it was read from, or from the catalogue it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QualifiedName<'a> {
    /// The plugin's name as its marketplace writes it (possibly empty when read from user input).
    pub plugin: &'a str,
    /// The marketplace id, when the name is qualified.
    pub marketplace: Option<&'a str>,
    /// The skill, when the name is of a skill.
    pub skill: Option<&'a str>,
}

impl<'a> QualifiedName<'a> {
    /// `plugin@marketplace`: the name listings show.
    pub fn of_plugin(plugin: &'a str, marketplace: &'a str) -> Self {
        QualifiedName { plugin, marketplace: Some(marketplace), skill: None }
    }

    /// A plugin's name as given, `plugin@marketplace` or bare `plugin`, split at the last `@`; no skill part.
    pub fn parse_plugin(name: &'a str) -> Self {
        match name.rsplit_once('@') {
            Some((plugin, marketplace)) => QualifiedName { plugin, marketplace: Some(marketplace), skill: None },
            None => QualifiedName { plugin: name, marketplace: None, skill: None },
        }
    }

    /// A plugin or a skill of it as an installed item names it: the part before the first `/` is the plugin
    /// ([`QualifiedName::parse_plugin`]), the rest the skill; both parts are trimmed, and an empty skill part is no
    /// skill.
    pub fn parse(name: &'a str) -> Self {
        match name.split_once('/') {
            Some((plugin, skill)) => {
                let skill = Some(skill.trim()).filter(|s| !s.is_empty());
                QualifiedName { skill, ..Self::parse_plugin(plugin.trim()) }
            }
            None => Self::parse_plugin(name),
        }
    }

    /// The same plugin's skill `skill`.
    pub fn with_skill(self, skill: &'a str) -> Self {
        QualifiedName { skill: Some(skill), ..self }
    }

    /// The name without its skill part: the plugin's.
    pub fn plugin_name(self) -> Self {
        QualifiedName { skill: None, ..self }
    }
}

impl fmt::Display for QualifiedName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.plugin)?;
        if let Some(marketplace) = self.marketplace {
            write!(f, "@{marketplace}")?;
        }
        if let Some(skill) = self.skill {
            write!(f, "/{skill}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::QualifiedName;

    fn parts(n: QualifiedName<'_>) -> (&str, Option<&str>, Option<&str>) {
        (n.plugin, n.marketplace, n.skill)
    }

    #[test]
    fn plugin_names_split_at_the_last_at() {
        assert_eq!(parts(QualifiedName::parse_plugin("lint@tools")), ("lint", Some("tools"), None));
        assert_eq!(parts(QualifiedName::parse_plugin("lint")), ("lint", None, None));
        assert_eq!(parts(QualifiedName::parse_plugin("a@b@tools")), ("a@b", Some("tools"), None));
        assert_eq!(parts(QualifiedName::parse_plugin("@tools")), ("", Some("tools"), None));
        assert_eq!(parts(QualifiedName::parse_plugin("lint@")), ("lint", Some(""), None));
        // No skill part in a plugin's name: a `/` is part of it.
        assert_eq!(parts(QualifiedName::parse_plugin("a/b@tools")), ("a/b", Some("tools"), None));
    }

    #[test]
    fn item_names_split_the_skill_at_the_first_slash_and_trim() {
        assert_eq!(parts(QualifiedName::parse("kit@ex/voice")), ("kit", Some("ex"), Some("voice")));
        assert_eq!(parts(QualifiedName::parse(" kit @ex / voice ")), ("kit ", Some("ex"), Some("voice")));
        assert_eq!(parts(QualifiedName::parse("kit/voice/extra")), ("kit", None, Some("voice/extra")));
        assert_eq!(parts(QualifiedName::parse("kit/ ")), ("kit", None, None));
        assert_eq!(parts(QualifiedName::parse("/voice")), ("", None, Some("voice")));
        assert_eq!(parts(QualifiedName::parse("voice")), ("voice", None, None));
        assert_eq!(parts(QualifiedName::parse("a@b@ex/s")), ("a@b", Some("ex"), Some("s")));
    }

    #[test]
    fn printing_is_the_inverse_of_parsing() {
        for name in ["lint@tools", "lint", "kit@ex/voice", "kit/voice", "a@b@tools"] {
            assert_eq!(QualifiedName::parse(name).to_string(), name);
        }
        let plugin = QualifiedName::of_plugin("kit", "ex");
        assert_eq!(plugin.to_string(), "kit@ex");
        assert_eq!(plugin.with_skill("voice").to_string(), "kit@ex/voice");
        assert_eq!(plugin.with_skill("voice").plugin_name(), plugin);
    }
}
