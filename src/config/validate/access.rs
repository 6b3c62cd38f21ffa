//! `[access]` and `[prompts]`: access rules and admins, and which marketplaces offer prompts. Both name marketplaces,
//! which are checked against the configured ids even when those marketplaces have other problems.

use figment::value::Value;

use super::Loader;
use crate::config::model::{AccessConfig, AccessDecision, AccessRule, Admins, PromptsConfig};
use crate::config::names::MarketplaceId;
use crate::config::raw::{child, KeyPath, RawAccess, RawAdmins, RawPrompts, RawRule, Segment, Text};
use crate::config::values::{check_domain, check_email};

impl Loader<'_> {
    pub(super) fn access(&mut self) -> Option<AccessConfig> {
        let path = KeyPath::default().key("access");
        let marketplaces = self.configured_ids();
        let raw: RawAccess = self.section("access")?;
        let default = self.required(&path.key("default"), raw.default);
        let rules_path = path.key("rules");
        let before = self.errors.len();
        let mut rules = Vec::new();
        match self.lookup(&rules_path) {
            None => {}
            Some(Value::Array(_, items)) => {
                for (index, item) in items.iter().enumerate() {
                    let at = rules_path.index(index);
                    if let Some(raw) = self.parse::<RawRule>(&at, item) {
                        if let Some(rule) = self.rule(&at, raw, marketplaces.as_deref()) {
                            rules.push(rule);
                        }
                    }
                }
            }
            Some(_) => self.fail(&rules_path, "must be a list of rule tables ([[access.rules]])"),
        }
        let admins_path = path.key("admins");
        let admins = match self.lookup(&admins_path).cloned() {
            None => Admins::default(),
            Some(value @ Value::Dict(..)) => match self.parse::<RawAdmins>(&admins_path, &value) {
                Some(raw) => Admins {
                    emails: self.checked_list(&admins_path.key("emails"), raw.emails, check_email),
                    domains: self.checked_list(&admins_path.key("domains"), raw.domains, check_domain),
                    orgs: self.text_list(&admins_path.key("orgs"), raw.orgs),
                    teams: self.text_list(&admins_path.key("teams"), raw.teams),
                    groups: self.text_list(&admins_path.key("groups"), raw.groups),
                },
                None => Admins::default(),
            },
            Some(_) => {
                self.fail(&admins_path, "must be a table ([access.admins]) of emails, domains, orgs, teams and groups");
                Admins::default()
            }
        };
        if self.errors.len() != before {
            return None;
        }
        Some(AccessConfig { default: default?, rules, admins })
    }

    pub(super) fn prompts(&mut self) -> Option<PromptsConfig> {
        let path = KeyPath::default().key("prompts");
        let configured = self.configured_ids();
        let raw: RawPrompts = self.section("prompts")?;
        let enabled = self.required(&path.key("enabled"), raw.enabled);
        let before = self.errors.len();
        let list_path = path.key("marketplaces");
        let marketplaces = raw.marketplaces.map(|items| {
            if items.is_empty() {
                self.fail(
                    &list_path,
                    "must name at least one marketplace; leave it out for all of them, or set prompts.enabled = false",
                );
            }
            let mut ids: Vec<MarketplaceId> = Vec::new();
            for (index, Text(text)) in items.into_iter().enumerate() {
                let at = list_path.index(index);
                let Some(id) = self.check(&at, text.trim().parse::<MarketplaceId>().map_err(|e| e.to_string())) else {
                    continue;
                };
                self.check_configured(&at, &id, configured.as_deref());
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            ids
        });
        if self.errors.len() != before {
            return None;
        }
        Some(PromptsConfig { enabled: enabled?, marketplaces })
    }

    /// Records an error at `path` when `id` is not one of the `configured` marketplaces (when they are known).
    fn check_configured(&mut self, path: &KeyPath, id: &MarketplaceId, configured: Option<&[MarketplaceId]>) -> bool {
        let Some(configured) = configured else { return true };
        if configured.contains(id) {
            return true;
        }
        let ids: Vec<&str> = configured.iter().map(MarketplaceId::as_str).collect();
        self.fail(path, format!("names marketplace `{id}`, which is not configured (configured: {})", ids.join(", ")));
        false
    }

    /// The ids of the configured marketplaces, read straight from the merged layers so that rules are checked
    /// against them even when a marketplace has other problems. `None` when some id is missing or invalid, as a rule
    /// naming it cannot then be judged.
    fn configured_ids(&self) -> Option<Vec<MarketplaceId>> {
        let Value::Array(_, items) = self.lookup(&KeyPath::default().key("marketplaces"))? else { return None };
        items
            .iter()
            .map(|item| {
                let Text(id) = child(item, &Segment::Key("id".into()))?.deserialize::<Text>().ok()?;
                id.parse().ok()
            })
            .collect()
    }

    fn rule(&mut self, path: &KeyPath, raw: RawRule, marketplaces: Option<&[MarketplaceId]>) -> Option<AccessRule> {
        let before = self.errors.len();
        let effect = self.required(&path.key("effect"), raw.effect);
        let marketplace_path = path.key("marketplace");
        let marketplace = self.optional_text(&marketplace_path, raw.marketplace).and_then(|text| {
            let id = self.check(&marketplace_path, text.parse::<MarketplaceId>().map_err(|e| e.to_string()))?;
            self.check_configured(&marketplace_path, &id, marketplaces).then_some(id)
        });
        let plugin = self.optional_text(&path.key("plugin"), raw.plugin);
        let skill = self.optional_text(&path.key("skill"), raw.skill);
        let emails = self.checked_list(&path.key("emails"), raw.emails, check_email);
        let domains = self.checked_list(&path.key("domains"), raw.domains, check_domain);
        let orgs = self.text_list(&path.key("orgs"), raw.orgs);
        let teams = self.text_list(&path.key("teams"), raw.teams);
        let groups = self.text_list(&path.key("groups"), raw.groups);
        let policy = raw.policy;
        if policy.is_some() {
            let policy_path = path.key("policy");
            if effect == Some(AccessDecision::Deny) {
                self.fail(
                    &policy_path,
                    "a deny rule cannot carry a policy: it hides what it targets, and a hidden plugin has no policy; \
                     put the policy on an allow rule",
                );
            }
            if skill.is_some() {
                self.fail(
                    &policy_path,
                    "a rule naming a skill cannot carry a policy: policies are about installing plugins; \
                     leave `skill` out",
                );
            }
        }
        if self.errors.len() != before {
            return None;
        }
        Some(AccessRule { effect: effect?, marketplace, plugin, skill, emails, domains, orgs, teams, groups, policy })
    }
}
