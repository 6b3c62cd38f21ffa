//! Access rules: who may see which marketplace, plugin and skill.
//!
//! A pure evaluator of the `[access]` configuration ([`AccessConfig`], parsed and validated in `config`) against the
//! signed-in [`Identity`]. Every path that returns catalogue data asks it, through `catalogue::View`; this module
//! knows nothing about MCP or the catalogue's shape, only names.
//!
//! # Which rules apply to what
//!
//! Something is decided at one of three depths: a **marketplace** (its id), a **plugin** (its marketplace id and its
//! name as the marketplace writes it) or a **skill** (its marketplace, plugin, and its name as listings show it: the
//! name of its folder, as Claude Code names it). Names compare exactly (case-sensitive), as the catalogue does.
//!
//! A rule's target is what its `marketplace`, `plugin` and `skill` name; each one left out matches anything. A rule
//! applies to everything *inside* its target too: `marketplace = "tools"` applies to that marketplace, all of its
//! plugins and all of their skills; `plugin = "release"` (no marketplace) to the plugin of that name in every
//! marketplace and its skills. A rule never applies to something *above* its target: a rule naming a skill does not
//! decide whether that skill's plugin is shown. `plugin` may be qualified, `plugin = "release@tools"`, which means the
//! same as `plugin = "release"` with `marketplace = "tools"` (with both, both must hold, so a contradiction matches
//! nothing).
//!
//! # Who a rule applies to
//!
//! `emails`, `domains`, `orgs`, `teams` and `groups` select users; a rule with none of them applies to everyone. Else
//! it applies to a user who matches ANY one listed value of ANY of them:
//!
//! - `emails`: the user's email, case-insensitively;
//! - `domains`: the user's email domain, exactly (`example.com` does not match `eng.example.com`), case-insensitively:
//!   `Identity::domain` (the verified email's domain, or Google's `hd`), else the verified email's own domain;
//! - `orgs`: a GitHub organisation the user is a member of, case-insensitively, as GitHub names are;
//! - `teams`: a GitHub team the user is in: `org/team`, or a bare `team` in any org, case-insensitively;
//! - `groups`: an OIDC group or role (the providers put the configured groups and roles claims there, Auth0's roles
//!   included), exactly (group ids are opaque and may be case-sensitive at the identity provider).
//!
//! An email the identity provider has not verified is only a claim: it never lets an `allow` rule match (anyone can
//! claim anyone's address), but it does let a `deny` rule match. Unverified claims can only take access away.
//!
//! # Which rule decides
//!
//! The **most specific** rule that applies to the thing and to the user decides; among equally specific rules, the
//! one written **first**; when no rule applies, `default`. Specificity compares the target field by field, deepest
//! first: a rule naming a skill beats one naming only a plugin, which beats one naming only a marketplace, which beats
//! one naming nothing; between two rules naming the same deepest level, the one that also names the marketplace
//! wins. Who a rule selects does not count: order equally specific rules yourself, exceptions first
//! (`allow emails = ["ada@example.com"]` above `deny domains = ["example.com"]`).
//!
//! So a general grant and narrower exceptions can be written in any order:
//! `allow domains = ["example.com"]` and `deny plugin = "release" groups = ["contractors"]` show `release` to
//! nobody in `contractors`, wherever the two rules stand.
//!
//! # What is visible
//!
//! - A **plugin** is visible when its decision is `allow`. Plugins are what users see listed; a marketplace-wide
//!   deny hides every plugin of it, except a plugin a more specific rule allows (`deny marketplace = "vendor"` for
//!   everyone, then `allow plugin = "lint@vendor"` for `platform`, shows `platform` that one plugin of `vendor`).
//! - A **skill** is visible when its plugin is visible AND its own decision is `allow`. A skill only exists inside
//!   its plugin, so a hidden plugin hides all its skills, whatever the skill rules say; a skill rule chooses among
//!   the skills of a visible plugin. (To give someone one skill of a plugin: allow the plugin, deny its other skills.)
//! - A **marketplace**'s id is shown (in `marketplaceErrors`, in "could not be loaded" answers) only to users who
//!   could see something in it: its own decision is `allow`, or some `allow` rule naming a plugin in it (or a plugin
//!   in any marketplace) applies to them. To everyone else it answers exactly as an unconfigured marketplace does.
//!
//! Hidden things are left out of every listing, count, search and resolution, and asking for one by name answers
//! exactly what asking for something that does not exist answers.
//!
//! # Install policies
//!
//! An `allow` rule may carry `policy = "required" | "recommended" | "available"`: what the users it selects are asked
//! to do with the plugins it targets. A plugin's policy for a user is that of the **most specific** rule that applies
//! to the plugin and to the user **and carries a policy** (the first written among equally specific ones, exactly as
//! for access); when none does, `available`. Rules without a policy say nothing about policies: they neither set one
//! nor reset one set by a less specific rule (write `policy = "available"` for that). A plugin the user may not see
//! has no policy at all.
//!
//! Most specific wins, not most permissive or most insistent: for someone in both `platform` and `contractors`,
//! `allow marketplace = "tools" groups = ["platform"] policy = "required"` and
//! `allow plugin = "deploy@tools" groups = ["contractors"] policy = "available"` make `deploy` available to them and
//! every other plugin of `tools` required, whichever group is listed first in their token and whichever rule is
//! written first. A `deny` rule cannot carry a policy, nor can a rule naming a skill (`config` refuses both): policies
//! are about installing plugins that are shown.
//!
//! Not for: parsing or validating rules (`config`), or deciding who may sign in at all (the providers).

use crate::catalogue::name::QualifiedName;
use crate::config::{AccessConfig, AccessDecision, AccessRule, InstallPolicy};
use skillport_providers::Identity;

/// How specific a rule's target is. The derived order compares the fields in declaration order: a rule naming a
/// skill is more specific than any rule that names none, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Specificity {
    pub skill: bool,
    pub plugin: bool,
    pub marketplace: bool,
}

/// What is being decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'s> {
    Marketplace { marketplace: &'s str },
    Plugin { marketplace: &'s str, plugin: &'s str },
    Skill { marketplace: &'s str, plugin: &'s str, skill: &'s str },
}

impl<'s> Item<'s> {
    fn parts(self) -> (&'s str, Option<&'s str>, Option<&'s str>) {
        match self {
            Item::Marketplace { marketplace } => (marketplace, None, None),
            Item::Plugin { marketplace, plugin } => (marketplace, Some(plugin), None),
            Item::Skill { marketplace, plugin, skill } => (marketplace, Some(plugin), Some(skill)),
        }
    }
}

/// A decision, and the index of the rule that made it (`None`: no rule applied, so `default` did).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub decision: AccessDecision,
    pub rule: Option<usize>,
}

impl Verdict {
    pub fn allows(&self) -> bool {
        self.decision == AccessDecision::Allow
    }
}

/// What of the user rules can match, normalised once per request.
#[derive(Debug)]
struct Subject<'a> {
    /// Lower-cased; only when the provider verified it.
    verified_email: Option<String>,
    /// Lower-cased; the email whether or not it is verified (deny rules only).
    claimed_email: Option<String>,
    /// Lower-cased, without a trailing dot: `Identity::domain`, else the verified email's domain.
    verified_domain: Option<String>,
    /// The claimed email's domain (deny rules only).
    claimed_domain: Option<String>,
    orgs: &'a [String],
    teams: &'a [String],
    groups: &'a [String],
}

fn domain_of(email: &str) -> Option<String> {
    email.rsplit_once('@').map(|(_, d)| normalise_domain(d)).filter(|d| !d.is_empty())
}

fn normalise_domain(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl<'a> Subject<'a> {
    fn of(identity: &'a Identity) -> Self {
        let claimed_email = identity.email.as_deref().map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty());
        let verified_email = claimed_email.clone().filter(|_| identity.email_verified);
        let verified_domain = identity
            .domain
            .as_deref()
            .map(normalise_domain)
            .filter(|d| !d.is_empty())
            .or_else(|| verified_email.as_deref().and_then(domain_of));
        let claimed_domain = claimed_email.as_deref().and_then(domain_of);
        Subject {
            verified_email,
            claimed_email,
            verified_domain,
            claimed_domain,
            orgs: &identity.orgs,
            teams: &identity.teams,
            groups: &identity.groups,
        }
    }

    fn matches(&self, rule: &AccessRule) -> bool {
        let everyone = rule.emails.is_empty()
            && rule.domains.is_empty()
            && rule.orgs.is_empty()
            && rule.teams.is_empty()
            && rule.groups.is_empty();
        if everyone {
            return true;
        }
        // Unverified claims only ever narrow access.
        let claims_count = rule.effect == AccessDecision::Deny;
        let same =
            |listed: &str, have: &Option<String>| have.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(listed));
        let email = |e: &String| same(e, &self.verified_email) || (claims_count && same(e, &self.claimed_email));
        let domain = |d: &String| {
            let d = normalise_domain(d);
            same(&d, &self.verified_domain) || (claims_count && same(&d, &self.claimed_domain))
        };
        let org = |o: &String| self.orgs.iter().any(|have| have.trim().eq_ignore_ascii_case(o.trim()));
        let team = |t: &String| {
            let t = t.trim();
            self.teams.iter().any(|have| {
                let have = have.trim();
                if t.contains('/') {
                    have.eq_ignore_ascii_case(t)
                } else {
                    have.rsplit('/').next().is_some_and(|name| name.eq_ignore_ascii_case(t))
                }
            })
        };
        let group = |g: &String| self.groups.iter().any(|have| have == g);
        rule.emails.iter().any(email)
            || rule.domains.iter().any(domain)
            || rule.orgs.iter().any(org)
            || rule.teams.iter().any(team)
            || rule.groups.iter().any(group)
    }
}

/// A rule's target, with a qualified `plugin = "name@marketplace"` split.
struct Target<'r> {
    /// Every marketplace the rule names (its `marketplace` and the qualifier of its `plugin`): all must be the item's.
    marketplaces: [Option<&'r str>; 2],
    plugin: Option<&'r str>,
    skill: Option<&'r str>,
}

impl<'r> Target<'r> {
    fn of(rule: &'r AccessRule) -> Self {
        let (plugin, qualifier) = match rule.plugin.as_deref().map(QualifiedName::parse_plugin) {
            Some(name) => (Some(name.plugin), name.marketplace),
            None => (None, None),
        };
        Target { marketplaces: [rule.marketplace.as_deref(), qualifier], plugin, skill: rule.skill.as_deref() }
    }

    fn specificity(&self) -> Specificity {
        Specificity {
            skill: self.skill.is_some(),
            plugin: self.plugin.is_some(),
            marketplace: self.marketplaces.iter().any(Option::is_some),
        }
    }

    fn names_marketplace(&self, marketplace: &str) -> bool {
        self.marketplaces.iter().flatten().all(|m| *m == marketplace)
    }

    /// Whether the rule applies to `item`: the item is the target or inside it.
    fn covers(&self, item: Item<'_>) -> bool {
        let (marketplace, plugin, skill) = item.parts();
        let level = |named: Option<&str>, have: Option<&str>| match (named, have) {
            (None, _) => true,
            // Names something deeper than the item: not about the item.
            (Some(_), None) => false,
            (Some(n), Some(h)) => n == h,
        };
        self.names_marketplace(marketplace) && level(self.plugin, plugin) && level(self.skill, skill)
    }
}

/// The access rules, as they apply to one signed-in user.
#[derive(Debug)]
pub struct Access<'a> {
    rules: &'a [AccessRule],
    default: AccessDecision,
    subject: Subject<'a>,
}

impl<'a> Access<'a> {
    pub fn new(config: &'a AccessConfig, identity: &'a Identity) -> Self {
        Access { rules: &config.rules, default: config.default, subject: Subject::of(identity) }
    }

    /// No rules and a default of allow: everything is visible to everyone.
    pub fn is_unrestricted(&self) -> bool {
        self.rules.is_empty() && self.default == AccessDecision::Allow
    }

    /// The decision for `item` alone (for a skill, not counting whether its plugin is visible): the most specific
    /// applicable rule, the first written among equals, else the default.
    pub fn decide(&self, item: Item<'_>) -> Verdict {
        match self.most_specific(item, |_| true) {
            Some(index) => Verdict { decision: self.rules[index].effect, rule: Some(index) },
            None => Verdict { decision: self.default, rule: None },
        }
    }

    /// The index of the most specific rule that covers `item`, matches the user and passes `eligible` (the first
    /// written among equals): the one search that both visibility and install policies use.
    fn most_specific(&self, item: Item<'_>, eligible: impl Fn(&AccessRule) -> bool) -> Option<usize> {
        let mut best: Option<(Specificity, usize)> = None;
        for (index, rule) in self.rules.iter().enumerate() {
            if !eligible(rule) {
                continue;
            }
            let target = Target::of(rule);
            if !target.covers(item) {
                continue;
            }
            let specificity = target.specificity();
            if best.is_some_and(|(s, _)| s >= specificity) {
                continue;
            }
            if self.subject.matches(rule) {
                best = Some((specificity, index));
            }
        }
        best.map(|(_, index)| index)
    }

    /// Whether the user sees the plugin `plugin` of `marketplace` (listed, found by name, described).
    pub fn sees_plugin(&self, marketplace: &str, plugin: &str) -> bool {
        self.is_unrestricted() || self.decide(Item::Plugin { marketplace, plugin }).allows()
    }

    /// Whether the user sees the skill `skill` of that plugin: the plugin is visible and the skill allowed.
    pub fn sees_skill(&self, marketplace: &str, plugin: &str, skill: &str) -> bool {
        self.is_unrestricted()
            || (self.sees_plugin(marketplace, plugin)
                && self.decide(Item::Skill { marketplace, plugin, skill }).allows())
    }

    /// Whether some rule carries a policy: only then are policies shown at all.
    pub fn has_policies(&self) -> bool {
        self.rules.iter().any(|r| r.policy.is_some())
    }

    /// The user's install policy for the plugin `plugin` of `marketplace` (see the module doc): `None` when they may
    /// not see it, else that of the most specific applicable rule with a policy, else `available`.
    pub fn policy(&self, marketplace: &str, plugin: &str) -> Option<InstallPolicy> {
        if !self.sees_plugin(marketplace, plugin) {
            return None;
        }
        let item = Item::Plugin { marketplace, plugin };
        let index = self.most_specific(item, |rule| rule.policy.is_some());
        Some(index.and_then(|i| self.rules[i].policy).unwrap_or(InstallPolicy::Available))
    }

    /// Whether the marketplace's id may be shown to the user: they could see something in it (see the module doc).
    /// Decided by the rules alone, never by what the marketplace holds, so it cannot reveal its content.
    pub fn sees_marketplace(&self, marketplace: &str) -> bool {
        if self.is_unrestricted() || self.decide(Item::Marketplace { marketplace }).allows() {
            return true;
        }
        self.rules.iter().any(|rule| {
            let target = Target::of(rule);
            rule.effect == AccessDecision::Allow
                && target.plugin.is_some()
                && target.skill.is_none()
                && target.names_marketplace(marketplace)
                && self.subject.matches(rule)
        })
    }
}

/// Whether `identity` may open the admin status page: it matches one of `access.admins` as an `allow` rule's
/// subjects would (an unverified email or its domain never counts). With the `local` provider and no admins listed,
/// the development user is the admin: `local` answers only requests addressed to a loopback host and signs everyone
/// in as that one user, so whoever reaches the page is already on the machine that holds the configuration it shows.
/// Listing admins under `local` turns this off (a developer can see the refusal others get).
pub fn is_admin(access: &AccessConfig, auth: &crate::config::AuthConfig, identity: &Identity) -> bool {
    let admins = &access.admins;
    if admins.is_empty() {
        return matches!(auth, crate::config::AuthConfig::Local { .. })
            && crate::config::ProviderKind::parse(&identity.provider) == Some(crate::config::ProviderKind::Local);
    }
    let as_rule = AccessRule {
        effect: AccessDecision::Allow,
        marketplace: None,
        plugin: None,
        skill: None,
        emails: admins.emails.clone(),
        domains: admins.domains.clone(),
        orgs: admins.orgs.clone(),
        teams: admins.teams.clone(),
        groups: admins.groups.clone(),
        policy: None,
    };
    Subject::of(identity).matches(&as_rule)
}

#[cfg(test)]
mod tests;

/// The one access scenario every catalogue path is tested with.
#[cfg(test)]
pub(crate) mod fixtures;
