//! The rules as the module doc states them: who a rule selects, which rule decides, what is visible, install
//! policies, and the admin file's commented example read as documented.

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
    let cfg =
        config(Allow, vec![deny().emails(&["intern@example.com"]).groups(&["contractors"]).domains(&["vendor.io"])]);
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
    let dev = crate::testing::dev_identity();
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
    let cfg =
        config(Allow, vec![with_policy(allow().plugin("p"), Required), deny().plugin("hidden"), allow().plugin("q")]);
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
        vec![with_policy(allow().groups(&["platform"]), Required), allow().plugin("p").emails(&["pat@example.com"])],
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
    let block = &crate::config::ADMIN_TOML[crate::config::ADMIN_TOML.find("# [access]\n").expect("[access] block")..];
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
