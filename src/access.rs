//! Access rules (issue 6): who may see which marketplace, plugin and skill.
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
        let (plugin, qualifier) = match rule.plugin.as_deref() {
            Some(p) => match p.rsplit_once('@') {
                Some((name, market)) => (Some(name), Some(market)),
                None => (Some(p), None),
            },
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
        return matches!(auth, crate::config::AuthConfig::Local { .. }) && identity.provider == "local";
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
mod tests {
    use super::*;
    use AccessDecision::{Allow, Deny};

    fn rule(effect: AccessDecision) -> AccessRule {
        AccessRule {
            effect,
            marketplace: None,
            plugin: None,
            skill: None,
            emails: vec![],
            domains: vec![],
            orgs: vec![],
            teams: vec![],
            groups: vec![],
            policy: None,
        }
    }

    fn allow() -> AccessRule {
        rule(Allow)
    }

    fn deny() -> AccessRule {
        rule(Deny)
    }

    trait Build: Sized {
        fn market(self, m: &str) -> Self;
        fn plugin(self, p: &str) -> Self;
        fn skill(self, s: &str) -> Self;
        fn emails(self, v: &[&str]) -> Self;
        fn domains(self, v: &[&str]) -> Self;
        fn orgs(self, v: &[&str]) -> Self;
        fn teams(self, v: &[&str]) -> Self;
        fn groups(self, v: &[&str]) -> Self;
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    impl Build for AccessRule {
        fn market(mut self, m: &str) -> Self {
            self.marketplace = Some(m.parse().unwrap());
            self
        }
        fn plugin(mut self, p: &str) -> Self {
            self.plugin = Some(p.into());
            self
        }
        fn skill(mut self, s: &str) -> Self {
            self.skill = Some(s.into());
            self
        }
        fn emails(mut self, v: &[&str]) -> Self {
            self.emails = strings(v);
            self
        }
        fn domains(mut self, v: &[&str]) -> Self {
            self.domains = strings(v);
            self
        }
        fn orgs(mut self, v: &[&str]) -> Self {
            self.orgs = strings(v);
            self
        }
        fn teams(mut self, v: &[&str]) -> Self {
            self.teams = strings(v);
            self
        }
        fn groups(mut self, v: &[&str]) -> Self {
            self.groups = strings(v);
            self
        }
    }

    fn config(default: AccessDecision, rules: Vec<AccessRule>) -> AccessConfig {
        AccessConfig { default, rules, admins: Default::default() }
    }

    fn user(email: &str) -> Identity {
        Identity {
            provider: "oidc".into(),
            subject: format!("sub-{email}"),
            email: Some(email.into()),
            email_verified: true,
            name: None,
            domain: email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()),
            groups: vec![],
            orgs: vec![],
            teams: vec![],
        }
    }

    fn with_groups(mut id: Identity, groups: &[&str]) -> Identity {
        id.groups = strings(groups);
        id
    }

    fn plugin(a: &Access<'_>, m: &str, p: &str) -> bool {
        a.sees_plugin(m, p)
    }

    fn skill(a: &Access<'_>, m: &str, p: &str, s: &str) -> bool {
        a.sees_skill(m, p, s)
    }

    #[test]
    fn no_rules_means_the_default() {
        let id = user("ada@example.com");
        let open = config(Allow, vec![]);
        let a = Access::new(&open, &id);
        assert!(a.is_unrestricted());
        assert!(plugin(&a, "m", "p") && skill(&a, "m", "p", "s") && a.sees_marketplace("m"));
        let closed = config(Deny, vec![]);
        let a = Access::new(&closed, &id);
        assert!(!a.is_unrestricted());
        assert!(!plugin(&a, "m", "p") && !skill(&a, "m", "p", "s") && !a.sees_marketplace("m"));
        assert_eq!(a.decide(Item::Plugin { marketplace: "m", plugin: "p" }), Verdict { decision: Deny, rule: None });
    }

    #[test]
    fn a_rule_without_subjects_applies_to_everyone() {
        let cfg = config(Deny, vec![allow().plugin("p")]);
        for email in ["ada@example.com", "bob@other.org"] {
            let id = user(email);
            assert!(plugin(&Access::new(&cfg, &id), "m", "p"), "{email}");
        }
    }

    #[test]
    fn emails_match_case_insensitively_and_only_when_verified_for_allow() {
        let cfg = config(Deny, vec![allow().emails(&["ada@example.com"])]);
        let id = user("Ada@Example.COM");
        assert!(plugin(&Access::new(&cfg, &id), "m", "p"));
        let mut unverified = user("ada@example.com");
        unverified.email_verified = false;
        unverified.domain = None;
        assert!(!plugin(&Access::new(&cfg, &unverified), "m", "p"), "an unverified email must not grant access");
        // ...but it does count for a deny: a claim can only take access away.
        let cfg = config(Allow, vec![deny().emails(&["ada@example.com"])]);
        assert!(!plugin(&Access::new(&cfg, &unverified), "m", "p"));
        let cfg = config(Allow, vec![deny().domains(&["example.com"])]);
        assert!(!plugin(&Access::new(&cfg, &unverified), "m", "p"));
        let other = user("bob@example.org");
        assert!(plugin(&Access::new(&cfg, &other), "m", "p"));
    }

    #[test]
    fn domains_use_the_verified_domain_exactly() {
        let cfg = config(Deny, vec![allow().domains(&["example.com"])]);
        assert!(plugin(&Access::new(&cfg, &user("ada@example.com")), "m", "p"));
        assert!(plugin(&Access::new(&cfg, &user("ada@EXAMPLE.com")), "m", "p"));
        assert!(!plugin(&Access::new(&cfg, &user("ada@eng.example.com")), "m", "p"), "no subdomain matching");
        assert!(!plugin(&Access::new(&cfg, &user("ada@example.com.evil.io")), "m", "p"));
        assert!(!plugin(&Access::new(&cfg, &user("example.com@evil.io")), "m", "p"));
        // Google's `hd` (Identity::domain) counts, and a verified email gives a domain even when `domain` is unset.
        let mut hd = user("ada@gmail.com");
        hd.domain = Some("example.com".into());
        assert!(plugin(&Access::new(&cfg, &hd), "m", "p"));
        let mut no_domain = user("ada@example.com");
        no_domain.domain = None;
        assert!(plugin(&Access::new(&cfg, &no_domain), "m", "p"));
        // Without a verified email, and with no domain vouched for, nothing to match for an allow.
        no_domain.email_verified = false;
        assert!(!plugin(&Access::new(&cfg, &no_domain), "m", "p"));
        let mut nothing = user("x@example.com");
        nothing.email = None;
        nothing.domain = None;
        assert!(!plugin(&Access::new(&cfg, &nothing), "m", "p"));
    }

    #[test]
    fn orgs_teams_and_groups() {
        let cfg = config(
            Deny,
            vec![
                allow().plugin("by-org").orgs(&["Acme"]),
                allow().plugin("by-team").teams(&["platform"]),
                allow().plugin("by-qualified-team").teams(&["acme/security"]),
                allow().plugin("by-group").groups(&["Engineering"]),
            ],
        );
        let mut gh = user("ada@example.com");
        gh.provider = "github".into();
        gh.orgs = strings(&["acme"]);
        gh.teams = strings(&["acme/Platform", "acme/security"]);
        let a = Access::new(&cfg, &gh);
        assert!(plugin(&a, "m", "by-org"));
        assert!(plugin(&a, "m", "by-team"));
        assert!(plugin(&a, "m", "by-qualified-team"));
        assert!(!plugin(&a, "m", "by-group"));

        let mut other_org = gh.clone();
        other_org.orgs = strings(&["acme-evil"]);
        other_org.teams = strings(&["other/security", "acme/platform-admins"]);
        let a = Access::new(&cfg, &other_org);
        assert!(!plugin(&a, "m", "by-org"));
        assert!(!plugin(&a, "m", "by-team"), "team names match whole");
        assert!(!plugin(&a, "m", "by-qualified-team"), "a qualified team needs its org");

        let oidc = with_groups(user("bob@example.com"), &["Engineering"]);
        let a = Access::new(&cfg, &oidc);
        assert!(plugin(&a, "m", "by-group"));
        assert!(!plugin(&a, "m", "by-org") && !plugin(&a, "m", "by-team"));
        let lower = with_groups(user("bob@example.com"), &["engineering"]);
        assert!(!plugin(&Access::new(&cfg, &lower), "m", "by-group"), "groups are exact");
    }

    #[test]
    fn any_listed_value_of_any_field_matches() {
        let cfg = config(
            Allow,
            vec![deny().emails(&["intern@example.com"]).groups(&["contractors"]).domains(&["vendor.io"])],
        );
        assert!(!plugin(&Access::new(&cfg, &user("intern@example.com")), "m", "p"));
        assert!(!plugin(&Access::new(&cfg, &with_groups(user("c@example.com"), &["contractors"])), "m", "p"));
        assert!(!plugin(&Access::new(&cfg, &user("v@vendor.io")), "m", "p"));
        assert!(plugin(&Access::new(&cfg, &user("ada@example.com")), "m", "p"));
    }

    #[test]
    fn targets_cover_what_is_inside_them_and_nothing_above() {
        let cfg = config(Allow, vec![deny().market("tools").plugin("release").skill("publish")]);
        let id = user("ada@example.com");
        let a = Access::new(&cfg, &id);
        assert!(plugin(&a, "tools", "release"), "a skill rule does not decide its plugin");
        assert!(!skill(&a, "tools", "release", "publish"));
        assert!(skill(&a, "tools", "release", "notes"));
        assert!(skill(&a, "other", "release", "publish"));
        assert!(skill(&a, "tools", "other", "publish"));
        assert!(a.sees_marketplace("tools"));

        let cfg = config(Allow, vec![deny().skill("publish")]);
        let a = Access::new(&cfg, &id);
        assert!(!skill(&a, "any", "plugin", "publish") && plugin(&a, "any", "plugin"));
        assert!(skill(&a, "any", "plugin", "Publish"), "names are exact");

        let cfg = config(Allow, vec![deny().market("tools")]);
        let a = Access::new(&cfg, &id);
        assert!(!a.sees_marketplace("tools") && !plugin(&a, "tools", "x") && !skill(&a, "tools", "x", "y"));
        assert!(a.sees_marketplace("other") && plugin(&a, "other", "x"));
    }

    #[test]
    fn qualified_plugin_names() {
        let id = user("ada@example.com");
        let cfg = config(Allow, vec![deny().plugin("release@tools")]);
        let a = Access::new(&cfg, &id);
        assert!(!plugin(&a, "tools", "release") && plugin(&a, "other", "release") && plugin(&a, "tools", "x"));
        // The same as naming the marketplace: equally specific, and a contradiction matches nothing.
        let cfg = config(Allow, vec![deny().plugin("release@tools").market("other")]);
        let a = Access::new(&cfg, &id);
        assert!(plugin(&a, "tools", "release") && plugin(&a, "other", "release"));
        let cfg = config(Allow, vec![deny().plugin("release@tools"), allow().plugin("release").market("tools")]);
        assert!(!plugin(&Access::new(&cfg, &id), "tools", "release"), "equally specific: first written wins");
        // An unqualified plugin rule matches that name in every marketplace, exactly.
        let cfg = config(Allow, vec![deny().plugin("release")]);
        let a = Access::new(&cfg, &id);
        assert!(!plugin(&a, "a", "release") && !plugin(&a, "b", "release"));
        assert!(plugin(&a, "a", "Release") && plugin(&a, "a", "release-tools"));
    }

    #[test]
    fn the_most_specific_rule_wins_whatever_the_order() {
        let id = user("intern@example.com");
        let general = allow().domains(&["example.com"]);
        let plugin_deny = deny().market("tools").plugin("release").emails(&["intern@example.com"]);
        let skill_allow = allow().market("tools").plugin("release").skill("notes").emails(&["intern@example.com"]);
        for rules in [vec![general.clone(), plugin_deny.clone()], vec![plugin_deny.clone(), general.clone()]] {
            let cfg = config(Deny, rules);
            let a = Access::new(&cfg, &id);
            assert!(!plugin(&a, "tools", "release"));
            assert!(plugin(&a, "tools", "other"));
        }
        // A skill allowed under a denied plugin stays hidden: its plugin is.
        let cfg = config(Deny, vec![skill_allow.clone(), general.clone(), plugin_deny.clone()]);
        let a = Access::new(&cfg, &id);
        assert_eq!(a.decide(Item::Skill { marketplace: "tools", plugin: "release", skill: "notes" }).rule, Some(0));
        assert!(!skill(&a, "tools", "release", "notes"));
        // A marketplace deny yields to a plugin allow, which yields to a skill deny.
        let cfg = config(
            Allow,
            vec![
                deny().market("vendor").skill("danger"),
                allow().plugin("lint@vendor").groups(&["platform"]),
                deny().market("vendor"),
            ],
        );
        let platform = with_groups(user("p@example.com"), &["platform"]);
        let a = Access::new(&cfg, &platform);
        assert!(plugin(&a, "vendor", "lint") && !plugin(&a, "vendor", "other"));
        assert!(skill(&a, "vendor", "lint", "fmt") && !skill(&a, "vendor", "lint", "danger"));
        assert!(a.sees_marketplace("vendor"));
        let other = user("o@example.com");
        let a = Access::new(&cfg, &other);
        assert!(!plugin(&a, "vendor", "lint") && !a.sees_marketplace("vendor"));
        // Specificity order: skill > plugin > marketplace > none; naming the marketplace too breaks a tie.
        let s = |skill, plugin, marketplace| Specificity { skill, plugin, marketplace };
        assert!(s(true, false, false) > s(false, true, true));
        assert!(s(false, true, false) > s(false, false, true));
        assert!(s(false, true, true) > s(false, true, false));
        assert!(s(false, false, true) > s(false, false, false));
        let cfg = config(Allow, vec![allow().plugin("release"), deny().plugin("release").market("tools")]);
        assert!(!plugin(&Access::new(&cfg, &id), "tools", "release"));
    }

    #[test]
    fn equally_specific_rules_first_written_wins() {
        let ada = user("ada@example.com");
        let bob = user("bob@example.com");
        let cfg = config(Allow, vec![allow().emails(&["ada@example.com"]), deny().domains(&["example.com"])]);
        assert!(plugin(&Access::new(&cfg, &ada), "m", "p"));
        assert!(!plugin(&Access::new(&cfg, &bob), "m", "p"));
        let cfg = config(Allow, vec![deny().domains(&["example.com"]), allow().emails(&["ada@example.com"])]);
        assert!(!plugin(&Access::new(&cfg, &ada), "m", "p"));
        let a = Access::new(&cfg, &ada);
        assert_eq!(a.decide(Item::Plugin { marketplace: "m", plugin: "p" }), Verdict { decision: Deny, rule: Some(0) });
    }

    #[test]
    fn marketplace_ids_show_only_to_those_who_could_see_inside() {
        let id = user("ada@example.com");
        let cfg = config(Deny, vec![allow().market("a")]);
        let a = Access::new(&cfg, &id);
        assert!(a.sees_marketplace("a") && !a.sees_marketplace("b"));
        let cfg = config(Deny, vec![allow().plugin("p@b")]);
        let a = Access::new(&cfg, &id);
        assert!(!a.sees_marketplace("a") && a.sees_marketplace("b"));
        // A skill allow opens no plugin, so no marketplace either; a rule for someone else opens nothing.
        let cfg = config(Deny, vec![allow().market("a").plugin("p").skill("s"), allow().plugin("q").groups(&["x"])]);
        let a = Access::new(&cfg, &id);
        assert!(!a.sees_marketplace("a") && !a.sees_marketplace("b"));
        // An unqualified plugin allow could be in any marketplace.
        let cfg = config(Deny, vec![allow().plugin("p")]);
        let a = Access::new(&cfg, &id);
        assert!(a.sees_marketplace("a") && a.sees_marketplace("b"));
    }

    #[test]
    fn admins_match_verified_emails_domains_and_groups_only() {
        use crate::config::{Admins, AuthConfig};
        let local = AuthConfig::Local { user: Default::default(), open: false };
        let mut id = fixtures::identity("ada@example.com");
        let mut cfg = config(Allow, vec![]);
        // Nobody is an admin by default, but for `local`'s own development user.
        assert!(!is_admin(&cfg, &local, &id), "an oidc identity is never the development user");
        let dev = crate::app::dev_identity();
        assert!(is_admin(&cfg, &local, &dev));
        cfg.admins = Admins { emails: strings(&["ada@example.com"]), ..Default::default() };
        assert!(is_admin(&cfg, &local, &id));
        assert!(!is_admin(&cfg, &local, &dev), "listing admins turns the development default off");
        id.email_verified = false;
        assert!(!is_admin(&cfg, &local, &id), "an unverified email is only a claim");
        id.email_verified = true;
        cfg.admins = Admins { domains: strings(&["example.com"]), ..Default::default() };
        assert!(is_admin(&cfg, &local, &id));
        assert!(!is_admin(&cfg, &local, &fixtures::identity("ada@eng.example.com")));
        cfg.admins = Admins { groups: strings(&["platform"]), ..Default::default() };
        assert!(!is_admin(&cfg, &local, &id));
        id.groups = strings(&["platform"]);
        assert!(is_admin(&cfg, &local, &id));
        cfg.admins = Admins { teams: strings(&["acme/ops"]), orgs: strings(&["other"]), ..Default::default() };
        assert!(!is_admin(&cfg, &local, &id));
        id.teams = strings(&["acme/ops"]);
        assert!(is_admin(&cfg, &local, &id));
    }

    fn with_policy(mut rule: AccessRule, policy: InstallPolicy) -> AccessRule {
        rule.policy = Some(policy);
        rule
    }

    use InstallPolicy::{Available, Recommended, Required};

    #[test]
    fn policies_default_to_available_and_only_visible_plugins_have_one() {
        let id = user("ada@example.com");
        let cfg = config(Allow, vec![]);
        let a = Access::new(&cfg, &id);
        assert!(!a.has_policies());
        assert_eq!(a.policy("m", "p"), Some(Available));
        let cfg = config(
            Allow,
            vec![with_policy(allow().plugin("p"), Required), deny().plugin("hidden"), allow().plugin("q")],
        );
        let a = Access::new(&cfg, &id);
        assert!(a.has_policies());
        assert_eq!(a.policy("m", "p"), Some(Required));
        // A rule without a policy (`q`) says nothing about it; a hidden plugin has none.
        assert_eq!(a.policy("m", "q"), Some(Available));
        assert_eq!(a.policy("m", "hidden"), None);
        // An allow rule with a policy also allows: with a default of deny, it is what shows the plugin.
        let cfg = config(Deny, vec![with_policy(allow().plugin("p").groups(&["eng"]), Recommended)]);
        assert_eq!(Access::new(&cfg, &id).policy("m", "p"), None);
        let eng = with_groups(user("e@example.com"), &["eng"]);
        assert_eq!(Access::new(&cfg, &eng).policy("m", "p"), Some(Recommended));
    }

    #[test]
    fn the_most_specific_policy_wins_not_the_most_permissive() {
        // One user in two groups whose rules conflict.
        let both = with_groups(user("sam@example.com"), &["platform", "contractors"]);
        let rules = vec![
            with_policy(allow().market("tools").groups(&["platform"]), Required),
            with_policy(allow().plugin("deploy@tools").groups(&["contractors"]), Available),
            deny().plugin("secrets@tools").groups(&["contractors"]),
            with_policy(allow().groups(&["contractors"]), Recommended),
        ];
        let mut reversed = rules.clone();
        reversed.reverse();
        for rules in [rules, reversed] {
            let cfg = config(Deny, rules);
            let a = Access::new(&cfg, &both);
            // The plugin rule beats the marketplace rule: less insistent, and still what applies.
            assert_eq!(a.policy("tools", "deploy"), Some(Available));
            // The marketplace rule beats the everyone rule.
            assert_eq!(a.policy("tools", "lint"), Some(Required));
            assert_eq!(a.policy("other", "lint"), Some(Recommended));
            // The deny naming the plugin beats the marketplace allow: most permissive would have shown it.
            assert_eq!(a.policy("tools", "secrets"), None);
            assert!(!plugin(&a, "tools", "secrets"));
        }
        // Only platform: no contractor rule applies, so `deploy` is required and `secrets` visible.
        let platform = with_groups(user("pat@example.com"), &["platform"]);
        let cfg = config(
            Deny,
            vec![
                with_policy(allow().market("tools").groups(&["platform"]), Required),
                with_policy(allow().plugin("deploy@tools").groups(&["contractors"]), Available),
                deny().plugin("secrets@tools").groups(&["contractors"]),
            ],
        );
        let a = Access::new(&cfg, &platform);
        assert_eq!((a.policy("tools", "deploy"), a.policy("tools", "secrets")), (Some(Required), Some(Required)));
        // Equally specific rules with policies: the first written wins, whatever the policies.
        let cfg = config(
            Allow,
            vec![
                with_policy(allow().plugin("p").groups(&["contractors"]), Available),
                with_policy(allow().plugin("p").groups(&["platform"]), Required),
            ],
        );
        assert_eq!(Access::new(&cfg, &both).policy("m", "p"), Some(Available));
        // A more specific rule without a policy neither sets nor resets one.
        let cfg = config(
            Allow,
            vec![
                with_policy(allow().groups(&["platform"]), Required),
                allow().plugin("p").emails(&["pat@example.com"]),
            ],
        );
        assert_eq!(Access::new(&cfg, &platform).policy("m", "p"), Some(Required));
    }

    /// The identities each provider kind produces (as `providers::{github, google, auth0, oidc}` build them), and one
    /// configuration whose rules select each kind by what that provider fills in.
    #[test]
    fn policies_follow_every_provider_kind() {
        let cfg = config(
            Allow,
            vec![
                with_policy(allow().teams(&["acme/platform"]), Required),
                with_policy(allow().orgs(&["acme"]), Recommended),
                with_policy(allow().domains(&["acme-corp.com"]), Recommended),
                with_policy(allow().plugin("deploy").domains(&["acme-corp.com"]), Required),
                with_policy(allow().plugin("deploy").groups(&["release-managers"]), Required),
                with_policy(allow().plugin("deploy").groups(&["00gabc12-sre"]), Required),
                with_policy(allow().market("vendor").groups(&["sre-oncall"]), Recommended),
            ],
        );
        // GitHub: the verified primary email's domain, the configured org, and `org/team` slugs; no groups.
        let github = Identity {
            provider: "github".into(),
            subject: "1234".into(),
            email: Some("octo@users.noreply.github.com".into()),
            email_verified: true,
            name: Some("octo".into()),
            domain: Some("users.noreply.github.com".into()),
            groups: vec![],
            orgs: strings(&["acme"]),
            teams: strings(&["acme/platform"]),
        };
        // Google: `domain` is the Workspace `hd`, lower-cased, here not the email's domain; no groups.
        let google = Identity {
            provider: "google".into(),
            subject: "1098765".into(),
            email: Some("gina@mail.acme-corp.com".into()),
            email_verified: true,
            name: Some("Gina".into()),
            domain: Some("acme-corp.com".into()),
            groups: vec![],
            orgs: vec![],
            teams: vec![],
        };
        // Auth0: roles (namespaced claim, put in `groups` by the provider), the email's domain.
        let auth0 = Identity {
            provider: "auth0".into(),
            subject: "auth0|65a1".into(),
            email: Some("ravi@contractor.io".into()),
            email_verified: true,
            name: Some("Ravi".into()),
            domain: Some("contractor.io".into()),
            groups: strings(&["release-managers"]),
            orgs: vec![],
            teams: vec![],
        };
        // Generic OIDC: the groups claim's values, opaque ids included; an unverified email leaves `domain` empty.
        let oidc = Identity {
            provider: "oidc".into(),
            subject: "u-42".into(),
            email: Some("olu@acme-corp.com".into()),
            email_verified: false,
            name: Some("Olu".into()),
            domain: None,
            groups: strings(&["00gabc12-sre", "sre-oncall"]),
            orgs: vec![],
            teams: vec![],
        };
        let policies = |id: &Identity| {
            let a = Access::new(&cfg, id);
            [("tools", "lint"), ("tools", "deploy"), ("vendor", "lint")].map(|(m, p)| a.policy(m, p).unwrap())
        };
        // The team rule and the org rule are equally specific (no target): the first written, the team's, wins.
        assert_eq!(policies(&github), [Required, Required, Required]);
        assert_eq!(policies(&google), [Recommended, Required, Recommended]);
        assert_eq!(policies(&auth0), [Available, Required, Available]);
        // The unverified email's domain does not count toward an allow rule's policy.
        assert_eq!(policies(&oidc), [Available, Required, Recommended]);
        // The same user in the `local` development provider's shape answers the same as through OIDC.
        let mut local = oidc.clone();
        local.provider = "local".into();
        assert_eq!(policies(&local), policies(&oidc));
    }

    /// The commented-out `[access]` example of config/skillport.toml, uncommented, loaded as the admin file.
    fn admin_file_example() -> AccessConfig {
        let block =
            &crate::config::ADMIN_TOML[crate::config::ADMIN_TOML.find("# [access]\n").expect("[access] block")..];
        let mut admin = String::from(
            "[[marketplaces]]\nid = \"acme-tools\"\nkind = \"bundled\"\nlocation = \"marketplace\"\n\
             [[marketplaces]]\nid = \"vendor\"\nkind = \"bundled\"\nlocation = \"marketplace\"\n",
        );
        for line in block.lines().filter_map(|l| l.strip_prefix("# ")) {
            let key = line.split_once(" = ").map(|(k, _)| k);
            if line.starts_with('[') || key.is_some_and(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_')) {
                admin.push_str(line);
                admin.push('\n');
            }
        }
        let config = crate::config::load(crate::config::DEFAULT_TOML, &admin, &Default::default())
            .unwrap_or_else(|e| panic!("{e}\n{admin}"));
        assert_eq!(config.access.rules.len(), 4, "{admin}");
        config.access
    }

    #[test]
    fn the_admin_file_example_reads_as_documented() {
        let cfg = admin_file_example();
        assert_eq!(cfg.default, Deny);
        // Whatever the order of its rules.
        let mut reversed = cfg.clone();
        reversed.rules.reverse();
        for cfg in [cfg, reversed] {
            check_admin_file_example(&cfg);
        }
    }

    fn check_admin_file_example(cfg: &AccessConfig) {
        let staff = user("ada@example.com");
        let a = Access::new(cfg, &staff);
        assert!(plugin(&a, "acme-tools", "release-tools") && skill(&a, "acme-tools", "release-tools", "publish"));
        assert!(plugin(&a, "vendor", "x"));
        let contractor = with_groups(user("c@example.com"), &["contractors"]);
        let a = Access::new(cfg, &contractor);
        assert!(plugin(&a, "acme-tools", "release-tools"));
        assert!(!skill(&a, "acme-tools", "release-tools", "publish"));
        assert!(skill(&a, "acme-tools", "release-tools", "changelog"));
        let mut outsider = user("gh-user@users.noreply.github.com");
        outsider.teams = strings(&["acme/platform"]);
        let a = Access::new(cfg, &outsider);
        assert!(plugin(&a, "acme-tools", "release-tools") && !plugin(&a, "acme-tools", "other"));
        assert_eq!(a.policy("acme-tools", "release-tools"), Some(InstallPolicy::Required));
        assert_eq!(Access::new(cfg, &staff).policy("acme-tools", "release-tools"), Some(InstallPolicy::Available));
        assert!(a.sees_marketplace("acme-tools") && !a.sees_marketplace("vendor"));
        let intern = user("intern@example.com");
        let a = Access::new(cfg, &intern);
        assert!(!plugin(&a, "vendor", "x") && !a.sees_marketplace("vendor") && plugin(&a, "acme-tools", "x"));
        let stranger = user("eve@evil.io");
        let a = Access::new(cfg, &stranger);
        assert!(!plugin(&a, "acme-tools", "x") && !a.sees_marketplace("acme-tools"));
    }
}

/// The access scenario every catalogue path is tested with (`mcp::tools`, `mcp::skills`, `download`): the example
/// marketplace served twice (`one`, `two`), five users who each lose something different through a different kind of
/// subject, and, for each, the same catalogue with that something really removed. A path honours the rules when each
/// user's answer from the full catalogue is byte-for-byte the answer from the catalogue without what they may not see.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::app::block_on;
    use crate::mcp::{handle_message, Context, Outcome};
    use crate::App;
    use serde_json::{json, Value};
    use skillport_providers::Identity;
    use std::collections::BTreeMap;

    pub const MARKETPLACES: &str =
        r#"[{id="one",kind="bundled",location="marketplace"},{id="two",kind="bundled",location="marketplace"}]"#;
    pub const RULES: &str = concat!(
        "[",
        r#"{effect="deny",plugin="brand-kit@two",groups=["contractors"]},"#,
        r#"{effect="deny",marketplace="one",plugin="writing-tools",skill="release-notes",domains=["vendor.io"]},"#,
        r#"{effect="deny",marketplace="two",orgs=["outside-org"]},"#,
        r#"{effect="deny",plugin="repo-tools",teams=["interns"]},"#,
        r#"{effect="deny",plugin="brand-kit",emails=["eve@example.com"]}"#,
        "]"
    );

    /// Something really taken out of the catalogue.
    #[derive(Debug, Clone, Copy)]
    pub enum Gone {
        Marketplace(&'static str),
        Plugin(&'static str, &'static str),
        Skill(&'static str, &'static str, &'static str),
    }

    pub struct Case {
        /// Which kind of subject hides something from this user.
        pub who: &'static str,
        pub identity: Identity,
        pub gone: Vec<Gone>,
    }

    pub fn identity(email: &str) -> Identity {
        Identity {
            provider: "oidc".into(),
            subject: format!("sub:{email}"),
            email: Some(email.into()),
            email_verified: true,
            name: None,
            domain: email.rsplit_once('@').map(|(_, d)| d.into()),
            groups: vec![],
            orgs: vec![],
            teams: vec![],
        }
    }

    /// Sees everything: no rule applies to them.
    pub fn ada() -> Identity {
        identity("ada@example.com")
    }

    pub fn cases() -> Vec<Case> {
        let mut contractor = identity("carl@example.com");
        contractor.groups = vec!["contractors".into()];
        let mut outsider = identity("olga@example.com");
        outsider.provider = "github".into();
        outsider.orgs = vec!["outside-org".into()];
        let mut intern = identity("ivan@example.com");
        intern.provider = "github".into();
        intern.orgs = vec!["acme".into()];
        intern.teams = vec!["acme/interns".into()];
        vec![
            Case { who: "group", identity: contractor, gone: vec![Gone::Plugin("two", "brand-kit")] },
            Case {
                who: "domain",
                identity: identity("val@vendor.io"),
                gone: vec![Gone::Skill("one", "writing-tools", "release-notes")],
            },
            Case { who: "org", identity: outsider, gone: vec![Gone::Marketplace("two")] },
            Case {
                who: "team",
                identity: intern,
                gone: vec![Gone::Plugin("one", "repo-tools"), Gone::Plugin("two", "repo-tools")],
            },
            Case {
                who: "email",
                identity: identity("eve@example.com"),
                gone: vec![Gone::Plugin("one", "brand-kit"), Gone::Plugin("two", "brand-kit")],
            },
        ]
    }

    /// The scenario's app, with `extra` Worker vars.
    pub fn app_with(extra: &[(&str, &str)]) -> App {
        let mut env: BTreeMap<String, String> = BTreeMap::from([
            ("SKILLPORT_MARKETPLACES".to_string(), MARKETPLACES.to_string()),
            ("SKILLPORT_ACCESS__RULES".to_string(), RULES.to_string()),
        ]);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let app = block_on(App::from_env(&env));
        assert!(app.config.is_ok(), "{}", app.config.as_ref().err().map(|e| e.to_string()).unwrap_or_default());
        app
    }

    pub fn app() -> App {
        app_with(&[])
    }

    /// The scenario's app with `gone` really removed from the catalogue (the configuration, rules included, unchanged).
    pub fn app_without(gone: &[Gone]) -> App {
        let mut app = app();
        for g in gone {
            let markets = &mut app.catalogue.marketplaces;
            match *g {
                Gone::Marketplace(m) => markets.retain(|e| e.id != m),
                Gone::Plugin(m, p) => {
                    let entry = markets.iter_mut().find(|e| e.id == m).unwrap();
                    let plugins = &mut entry.loaded.as_mut().unwrap().plugins;
                    let before = plugins.len();
                    plugins.retain(|x| x.name != p);
                    assert_eq!(plugins.len() + 1, before, "{g:?}");
                }
                Gone::Skill(m, p, s) => {
                    let entry = markets.iter_mut().find(|e| e.id == m).unwrap();
                    let plugin = entry.loaded.as_mut().unwrap().plugins.iter_mut().find(|x| x.name == p).unwrap();
                    let before = plugin.skills.len();
                    plugin.skills.retain(|x| x.name != s);
                    assert_eq!(plugin.skills.len() + 1, before, "{g:?}");
                }
            }
        }
        app
    }

    /// The JSON-RPC response `identity` gets for `method` with `params`.
    pub fn rpc(app: &App, identity: &Identity, method: &str, params: Value) -> Value {
        let cfg = app.config.as_ref().unwrap();
        let ctx = Context { config: cfg, catalogue: &app.catalogue, client_surface: None, headers: &[], identity };
        match handle_message(&ctx, &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})) {
            Outcome::Response { body, .. } => body.into_value(),
            Outcome::Accepted => panic!("{method} got no response"),
        }
    }

    /// `tools/call` of `tool`: the tool's result.
    pub fn tool(app: &App, identity: &Identity, tool: &str, args: Value) -> Value {
        let r = rpc(app, identity, "tools/call", json!({"name": tool, "arguments": args}));
        r.get("result").cloned().unwrap_or_else(|| panic!("{tool}: {r}"))
    }

    /// `value` without what legitimately differs between two calls a second apart: download links and their expiry
    /// (also inside the text copy of a tool's structured result), and the age of a marketplace copy.
    pub fn timeless(value: &Value) -> Value {
        match value {
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| match k.as_str() {
                        "expiresAt" | "copyAgeSeconds" => (k.clone(), json!("<time>")),
                        _ => (k.clone(), timeless(v)),
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(timeless).collect()),
            Value::String(s) if s.contains("/download/") => json!("<link>"),
            Value::String(s) if s.starts_with('{') => match serde_json::from_str::<Value>(s) {
                Ok(inner) => json!(timeless(&inner).to_string()),
                Err(_) => value.clone(),
            },
            other => other.clone(),
        }
    }

    /// For every case and request: what the user gets from the full catalogue is exactly what they get from the
    /// catalogue without what is hidden from them. Returns, per case, whether any request's answer differed from what
    /// `ada` (who sees everything) gets, so a caller can check the requests exercised the hidden things at all.
    pub fn assert_hidden_is_absent(requests: &[(&str, Value)]) -> Vec<(&'static str, bool)> {
        let full = app();
        let mut exercised = Vec::new();
        for case in cases() {
            let absent = app_without(&case.gone);
            let mut differs = false;
            for (method, params) in requests {
                let got = timeless(&rpc(&full, &case.identity, method, params.clone()));
                let want = timeless(&rpc(&absent, &case.identity, method, params.clone()));
                assert_eq!(
                    got.to_string(),
                    want.to_string(),
                    "{} ({}): {method} {params}",
                    case.who,
                    case.identity.subject
                );
                differs |= got != timeless(&rpc(&full, &ada(), method, params.clone()));
            }
            exercised.push((case.who, differs));
        }
        exercised
    }

    /// [`assert_hidden_is_absent`], and every case's hidden thing made a difference to some request.
    pub fn assert_hidden_is_absent_for_all(requests: &[(&str, Value)]) {
        for (who, differs) in assert_hidden_is_absent(requests) {
            assert!(differs, "no request exercised what is hidden from the `{who}` user");
        }
    }
}
