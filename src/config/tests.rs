//! The configuration's own tests: layers and their precedence, every section's rules, and the exact texts of the errors
//! an admin reads.

use std::collections::BTreeMap;

use skillport_providers::local::LocalUser;
use skillport_sources::Layout;
use url::Url;

use super::*;

#[test]
fn upstream_timeout_is_bounded() {
    let env: BTreeMap<String, String> =
        [("SKILLPORT_CATALOGUE__UPSTREAM_TIMEOUT_MS".to_string(), "5".to_string())].into_iter().collect();
    let errors = load_embedded(&env).unwrap_err().to_string();
    assert!(errors.contains("catalogue.upstream_timeout_ms") && errors.contains("Worker vars"), "{errors}");
    assert_eq!(load_embedded(&BTreeMap::new()).unwrap().catalogue.upstream_timeout_ms, 15_000);
}

/// The bindings `pairs`, plus a download-signing key under `DOWNLOAD_KEY` unless they set one: configurations
/// with a real provider name it (`server.download_key_secret`), and tests of other keys need not repeat it.
fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    env.entry("DOWNLOAD_KEY".into()).or_insert_with(|| DOWNLOAD_KEY_VALUE.into());
    env.entry("OAUTH_KEY".into()).or_insert_with(|| "oauth-key-0123456789abcdef0123456789abcdef".into());
    env
}

const DOWNLOAD_KEY_VALUE: &str = "dl-key-0123456789abcdef0123456789abcdef";

fn ok(admin: &str, pairs: &[(&str, &str)]) -> Config {
    match load(DEFAULT_TOML, admin, &env(pairs)) {
        Ok(config) => config,
        Err(errors) => panic!("expected a valid configuration, got:\n{errors}"),
    }
}

fn fails(admin: &str, pairs: &[(&str, &str)]) -> Vec<ConfigError> {
    match load(DEFAULT_TOML, admin, &env(pairs)) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(ConfigErrors(errors)) => errors,
    }
}

/// The one error at `key`, checked to come from `layer`.
fn error_at<'e>(errors: &'e [ConfigError], key: &str, layer: &str) -> &'e ConfigError {
    let found: Vec<&ConfigError> = errors.iter().filter(|e| e.key == key).collect();
    assert_eq!(found.len(), 1, "expected one error at `{key}`, got {errors:#?}");
    assert_eq!(found[0].layer, layer, "wrong layer for `{key}`: {errors:#?}");
    found[0]
}

const GITHUB_AUTH: &str = r#"
    [server]
    public_url = "https://skills.example.com"
    download_key_secret = "DOWNLOAD_KEY"
    [auth]
    provider = "github"
    client_id = "Iv1.abc"
    client_secret_secret = "GITHUB_CLIENT_SECRET"
    master_key_secret = "OAUTH_KEY"
"#;

// --- layers ------------------------------------------------------------------------------------------------------

#[test]
fn defaults_alone_load() {
    let config = ok("", &[]);
    assert_eq!(config.server.public_url.as_str(), "http://localhost:8787/");
    assert_eq!(config.server.name, "Skillport");
    assert_eq!(config.server.max_body_bytes, 1_048_576);
    assert_eq!(config.server.sse_backlog_bytes, 1 << 20);
    assert_eq!(config.catalogue.surfaces, Surface::ALL.to_vec());
    assert_eq!(config.catalogue.refresh_seconds, 300);
    assert_eq!(config.catalogue.stale_seconds, 86_400);
    assert_eq!(config.catalogue.max_file_bytes, 5 * 1024 * 1024);
    assert_eq!(
        config.access,
        AccessConfig { default: AccessDecision::Allow, rules: vec![], admins: Admins::default() }
    );
    match &config.auth {
        AuthConfig::Local { user, .. } => assert_eq!(user, &LocalUser::default()),
        other => panic!("expected local, got {other:?}"),
    }
}

#[test]
fn embedded_files_load_with_an_empty_env() {
    let config = load_embedded(&BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.auth.kind(), "local");
    assert_eq!(config.marketplaces.len(), 1);
    let example = &config.marketplaces[0];
    assert_eq!(example.id, "example");
    assert_eq!(example.kind, SourceKind::Bundled);
    assert_eq!(example.location, "marketplace");
    assert!(example.token.is_none() && example.git_ref.is_none() && example.api_base.is_none());
}

#[test]
fn admin_file_overrides_a_default() {
    let config = ok("[catalogue]\nrefresh_seconds = 60\n[server]\nname = \"Acme Skills\"", &[]);
    assert_eq!(config.catalogue.refresh_seconds, 60);
    assert_eq!(config.server.name, "Acme Skills");
    // Keys the admin did not set keep their defaults, even in a table the admin wrote.
    assert_eq!(config.catalogue.stale_seconds, 86_400);
    assert_eq!(config.server.max_body_bytes, 1_048_576);
}

#[test]
fn env_var_overrides_both() {
    let config = ok("[catalogue]\nrefresh_seconds = 60", &[("SKILLPORT_CATALOGUE__REFRESH_SECONDS", "30")]);
    assert_eq!(config.catalogue.refresh_seconds, 30);
}

#[test]
fn nested_env_keys() {
    let config = ok(
        "",
        &[
            ("SKILLPORT_SERVER__PUBLIC_URL", "https://skills.example.com"),
            ("SKILLPORT_AUTH__PROVIDER", "oidc"),
            ("SKILLPORT_SERVER__DOWNLOAD_KEY_SECRET", "DOWNLOAD_KEY"),
            ("SKILLPORT_AUTH__ISSUER", "https://login.example.com/realms/acme"),
            ("SKILLPORT_AUTH__CLIENT_ID", "skillport"),
            ("SKILLPORT_AUTH__CLIENT_SECRET_SECRET", "OIDC_SECRET"),
            ("SKILLPORT_AUTH__MASTER_KEY_SECRET", "OAUTH_KEY"),
            ("SKILLPORT_AUTH__GROUPS_CLAIM", "groups"),
            ("OIDC_SECRET", "s3cret"),
            ("SKILLPORT_CATALOGUE__SURFACES", "[claude-code, claude-ai]"),
        ],
    );
    assert_eq!(config.server.public_url.as_str(), "https://skills.example.com/");
    assert_eq!(config.catalogue.surfaces, vec![Surface::ClaudeCode, Surface::ClaudeAi]);
    match &config.auth {
        AuthConfig::Oidc { issuer, client_id, client_secret, scopes, groups_claim } => {
            assert_eq!(issuer, "https://login.example.com/realms/acme");
            assert_eq!(client_id, "skillport");
            assert_eq!(client_secret.expose(), "s3cret");
            assert_eq!(scopes, &["openid", "email", "profile"]);
            assert_eq!(groups_claim.as_deref(), Some("groups"));
        }
        other => panic!("expected oidc, got {other:?}"),
    }
}

#[test]
fn env_array_replaces_the_marketplace_list() {
    let admin = "[[marketplaces]]\nid = \"one\"\nkind = \"bundled\"\nlocation = \"marketplace\"\n\n\
                 [[marketplaces]]\nid = \"two\"\nkind = \"bundled\"\nlocation = \"marketplace\"";
    let config = ok(admin, &[("SKILLPORT_MARKETPLACES", r#"[{id="a",kind="github",location="o/r"}]"#)]);
    assert_eq!(config.marketplaces.len(), 1);
    assert_eq!(config.marketplaces[0].id, "a");
    assert_eq!(config.marketplaces[0].kind, SourceKind::Github);
    assert_eq!(config.marketplaces[0].location, "o/r");
}

#[test]
fn admin_marketplaces_replace_the_default_list() {
    let admin = "[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\nlocation = \"acme/tools\"\nref = \"v1.2\"";
    let config = ok(admin, &[]);
    let ids: Vec<&str> = config.marketplaces.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["tools"]);
    assert_eq!(config.marketplaces[0].git_ref.as_deref(), Some("v1.2"));
}

#[test]
fn other_bindings_are_not_configuration_but_can_be_secrets() {
    let admin = "[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\nlocation = \"acme/tools\"\n\
                 token_secret = \"GITHUB_TOKEN\"";
    let config = ok(
        admin,
        &[
            ("GITHUB_TOKEN", "ghp_token"),
            // Would be an invalid provider, and an unknown section, if it were read as configuration.
            ("AUTH__PROVIDER", "nonsense"),
            ("MARKETPLACES", "[]"),
        ],
    );
    assert_eq!(config.auth.kind(), "local");
    assert_eq!(config.marketplaces[0].token.as_ref().map(Secret::expose), Some("ghp_token"));
    assert_eq!(config.marketplaces[0].token_secret.as_deref(), Some("GITHUB_TOKEN"));
}

#[test]
fn env_values_are_parsed_like_figment_env() {
    let config = ok(
        "",
        &[
            (
                "SKILLPORT_MARKETPLACES",
                r#"[{id = "gl", kind = "gitlab", location = 4242, ref = "main"},
                    {id = "ex", kind = "bundled", location = "marketplace"}]"#,
            ),
            ("SKILLPORT_SERVER__NAME", "Acme Skills"),
            ("SKILLPORT_SERVER__MAX_BODY_BYTES", "2048"),
            ("SKILLPORT_ACCESS__DEFAULT", "deny"),
            ("SKILLPORT_ACCESS__RULES", r#"[{effect = "allow", domains = ["Example.com"]}]"#),
        ],
    );
    // A numeric GitLab project id arrives as a number and is accepted as the text it was.
    assert_eq!(config.marketplaces[0].location, "4242");
    assert_eq!(config.server.name, "Acme Skills");
    assert_eq!(config.server.max_body_bytes, 2048);
    assert_eq!(config.access.default, AccessDecision::Deny);
    assert_eq!(config.access.rules[0].domains, ["example.com"]);
}

#[test]
fn a_whole_table_var_is_refined_by_a_nested_var() {
    let config = ok(
        "",
        &[
            ("SKILLPORT_CATALOGUE", "{refresh_seconds = 10, stale_seconds = 20}"),
            ("SKILLPORT_CATALOGUE__STALE_SECONDS", "30"),
        ],
    );
    assert_eq!(config.catalogue.refresh_seconds, 10);
    assert_eq!(config.catalogue.stale_seconds, 30);
    // A table from a var replaces only the keys it names; the rest stay from the files.
    assert_eq!(config.catalogue.max_file_bytes, 5 * 1024 * 1024);
}

#[test]
fn every_provider_kind_loads() {
    let secrets = [("GITHUB_CLIENT_SECRET", "x1"), ("CS", "x2")];
    let github = ok(&format!("{GITHUB_AUTH}\norg = \"acme\"\nteams = [\"platform\"]"), &secrets);
    match &github.auth {
        AuthConfig::Github { org, teams, .. } => {
            assert_eq!(org.as_deref(), Some("acme"));
            assert_eq!(teams, &["platform"]);
        }
        other => panic!("{other:?}"),
    }

    let google = "[server]\npublic_url = \"https://s.example.com\"\ndownload_key_secret = \"DOWNLOAD_KEY\"\n\
                  [auth]\nprovider = \"google\"\n\
                  client_id = \"1-abc.apps.googleusercontent.com\"\nclient_secret_secret = \"CS\"\n\
                  allowed_domains = [\"Example.COM\"]\nmaster_key_secret = \"OAUTH_KEY\"";
    match ok(google, &secrets).auth {
        AuthConfig::Google { allowed_domains, client_secret, .. } => {
            assert_eq!(allowed_domains, ["example.com"]);
            assert_eq!(client_secret.expose(), "x2");
        }
        other => panic!("{other:?}"),
    }

    let auth0 = "[server]\npublic_url = \"https://s.example.com\"\ndownload_key_secret = \"DOWNLOAD_KEY\"\n\
                 [auth]\nprovider = \"auth0\"\n\
                 domain = \"acme.eu.auth0.com\"\nclient_id = \"abc\"\nclient_secret_secret = \"CS\"\n\
                 roles_claim = \"https://s.example.com/roles\"\nmaster_key_secret = \"OAUTH_KEY\"";
    match ok(auth0, &secrets).auth {
        AuthConfig::Auth0 { domain, roles_claim, groups_claim, .. } => {
            assert_eq!(domain, "acme.eu.auth0.com");
            assert_eq!(roles_claim.as_deref(), Some("https://s.example.com/roles"));
            assert_eq!(groups_claim, None);
        }
        other => panic!("{other:?}"),
    }
}

/// Code compares the enum; configuration, pages and messages spell its name, exactly as `auth.provider` takes it.
#[test]
fn provider_kinds_are_compared_as_types_and_named_as_configured() {
    let names: Vec<&str> = ProviderKind::ALL.into_iter().map(ProviderKind::as_str).collect();
    assert_eq!(names, ["local", "github", "oidc", "google", "auth0"]);
    for kind in ProviderKind::ALL {
        assert_eq!(ProviderKind::parse(kind.as_str()), Some(kind));
        assert_eq!(kind.to_string(), kind.as_str());
    }
    for other in ["Local", " local", "github ", "okta", ""] {
        assert_eq!(ProviderKind::parse(other), None, "{other:?}");
    }
    let local = ok("", &[]);
    assert_eq!((local.auth.provider(), local.auth.kind()), (ProviderKind::Local, "local"));
    let github = ok(GITHUB_AUTH, &[("GITHUB_CLIENT_SECRET", "x1")]);
    assert_eq!((github.auth.provider(), github.auth.kind()), (ProviderKind::Github, "github"));
}

#[test]
fn local_provider_accepts_loopback_public_urls() {
    for url in ["http://127.0.0.1:8787", "http://[::1]:8787", "http://app.localhost"] {
        let config = ok("", &[("SKILLPORT_SERVER__PUBLIC_URL", url)]);
        assert_eq!(config.auth.kind(), "local");
    }
}

#[test]
fn access_rules_are_parsed() {
    let admin = r#"
        [access]
        default = "deny"
        [[access.rules]]
        effect = "allow"
        marketplace = "example"
        plugin = "writing-tools"
        skill = "commit-message"
        emails = ["Ada@Example.com"]
        domains = ["example.com"]
        orgs = ["acme"]
        teams = ["platform"]
        groups = ["engineering"]
    "#;
    let config = ok(admin, &[]);
    assert_eq!(config.access.default, AccessDecision::Deny);
    assert_eq!(
        config.access.rules,
        [AccessRule {
            effect: AccessDecision::Allow,
            marketplace: Some("example".parse().unwrap()),
            plugin: Some("writing-tools".into()),
            skill: Some("commit-message".into()),
            emails: vec!["ada@example.com".into()],
            domains: vec!["example.com".into()],
            orgs: vec!["acme".into()],
            teams: vec!["platform".into()],
            groups: vec!["engineering".into()],
            policy: None,
        }]
    );
}

#[test]
fn access_rule_policies_are_parsed_and_checked() {
    let admin = r#"
        [[access.rules]]
        effect = "allow"
        plugin = "writing-tools"
        groups = ["engineering"]
        policy = "required"
        [[access.rules]]
        effect = "allow"
        marketplace = "example"
        policy = "recommended"
        [[access.rules]]
        effect = "allow"
        domains = ["example.com"]
    "#;
    let config = ok(admin, &[]);
    let policies: Vec<Option<InstallPolicy>> = config.access.rules.iter().map(|r| r.policy).collect();
    assert_eq!(policies, [Some(InstallPolicy::Required), Some(InstallPolicy::Recommended), None]);
    // The Worker-var form of the rules carries it too.
    let config = ok("", &[("SKILLPORT_ACCESS__RULES", r#"[{effect="allow",plugin="p",policy="available"}]"#)]);
    assert_eq!(config.access.rules[0].policy, Some(InstallPolicy::Available));

    let admin = r#"
        [[access.rules]]
        effect = "deny"
        plugin = "writing-tools"
        policy = "required"
        [[access.rules]]
        effect = "allow"
        plugin = "writing-tools"
        skill = "commit-message"
        policy = "recommended"
        [[access.rules]]
        effect = "allow"
        policy = "mandatory"
    "#;
    let errors = fails(admin, &[]);
    let deny = error_at(&errors, "access.rules[0].policy", ADMIN_LAYER);
    assert!(deny.message.contains("deny rule cannot carry a policy"), "{deny}");
    let skill = error_at(&errors, "access.rules[1].policy", ADMIN_LAYER);
    assert!(skill.message.contains("naming a skill"), "{skill}");
    let unknown = errors.iter().find(|e| e.key.starts_with("access.rules[2]")).expect("an error for rule 2");
    assert!(unknown.to_string().contains("mandatory"), "{unknown}");
}

#[test]
fn prompts_are_on_for_every_marketplace_by_default_and_can_be_limited_or_turned_off() {
    let config = ok("", &[]);
    assert_eq!(config.prompts, PromptsConfig { enabled: true, marketplaces: None });
    assert!(config.prompts.offers("example"));
    assert!(config.describe().ends_with("prompts on"), "{}", config.describe());

    let admin = r#"
        [[marketplaces]]
        id = "acme"
        kind = "github"
        location = "acme/plugins"
        [[marketplaces]]
        id = "vendor"
        kind = "bundled"
        location = "marketplace"
        [prompts]
        marketplaces = ["acme"]
    "#;
    let config = ok(admin, &[]);
    assert!(config.prompts.offers("acme") && !config.prompts.offers("vendor"));
    assert!(config.describe().ends_with("prompts on for acme"), "{}", config.describe());

    let config = ok(admin, &[("SKILLPORT_PROMPTS__ENABLED", "false")]);
    assert!(!config.prompts.enabled && !config.prompts.offers("acme"));
    assert!(config.describe().ends_with("prompts off"), "{}", config.describe());
}

#[test]
fn prompts_keys_are_checked() {
    let errors = fails("[prompts]\nmarketplaces = [\"example\", \"nope\"]\n", &[]);
    let error = error_at(&errors, "prompts.marketplaces[1]", ADMIN_LAYER);
    assert_eq!(error.message, "names marketplace `nope`, which is not configured (configured: example)");
    let errors = fails("[prompts]\nmarketplaces = []\n", &[]);
    assert!(error_at(&errors, "prompts.marketplaces", ADMIN_LAYER).message.contains("at least one"));
    let errors = fails("", &[("SKILLPORT_PROMPTS__MARKETPLACES", r#"["Bad Id"]"#)]);
    assert!(error_at(&errors, "prompts.marketplaces[0]", WORKER_LAYER).message.contains("may only contain"));
    let errors = fails("[prompts]\nenabled = \"yes\"\n", &[]);
    error_at(&errors, "prompts.enabled", ADMIN_LAYER);
    let errors = fails("[prompts]\nenable = false\n", &[]);
    error_at(&errors, "prompts.enable", ADMIN_LAYER);
}

// --- validation --------------------------------------------------------------------------------------------------

#[test]
fn unknown_provider_kind() {
    let errors = fails("", &[("SKILLPORT_AUTH__PROVIDER", "foo")]);
    let error = error_at(&errors, "auth.provider", WORKER_LAYER);
    assert_eq!(
        error.to_string(),
        "`auth.provider` (from Worker vars and secrets): unknown provider kind `foo`; expected one of local, \
         github, oidc, google, auth0"
    );
    // An unknown provider is reported as such, not also as one missing its master key.
    assert!(!errors.iter().any(|e| e.key == "auth.master_key_secret"), "{errors:#?}");
}

#[test]
fn unknown_marketplace_kind() {
    let admin = r#"
        [[marketplaces]]
        id = "a"
        kind = "bundled"
        location = "marketplace"
        [[marketplaces]]
        id = "b"
        kind = "github"
        location = "acme/b"
        [[marketplaces]]
        id = "c"
        kind = "svn"
        location = "svn://example.com/c"
    "#;
    let errors = fails(admin, &[]);
    let error = error_at(&errors, "marketplaces[2].kind", ADMIN_LAYER);
    assert_eq!(error.message, "unknown marketplace kind `svn`; expected one of github, gitlab, https, bundled");
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

#[test]
fn type_errors_name_key_and_layer_and_are_all_collected() {
    let errors = fails(
        "[catalogue]\nrefresh_seconds = \"soon\"",
        &[("SKILLPORT_SERVER__MAX_BODY_BYTES", "lots"), ("SKILLPORT_MARKETPLACES", r#"[{id = "a", kind = 7}]"#)],
    );
    let refresh = error_at(&errors, "catalogue.refresh_seconds", ADMIN_LAYER);
    assert_eq!(refresh.message, "expected a whole number of 0 or more, found text");
    error_at(&errors, "server.max_body_bytes", WORKER_LAYER);
    // A number is accepted as text, so `kind = 7` is an unknown kind, and the missing location is reported too.
    error_at(&errors, "marketplaces[0].kind", WORKER_LAYER);
    error_at(&errors, "marketplaces[0].location", WORKER_LAYER);
    assert_eq!(errors.len(), 4, "{errors:#?}");
}

#[test]
fn unknown_keys_and_sections_are_refused() {
    let errors = fails("[catalogue]\nrefresh_second = 5\n[marketplace]\nid = \"x\"", &[("SKILLPORT_FOO", "1")]);
    let typo = error_at(&errors, "catalogue.refresh_second", ADMIN_LAYER);
    assert!(typo.message.starts_with("unknown key `refresh_second`; expected one of surfaces, refresh_seconds"));
    error_at(&errors, "marketplace", ADMIN_LAYER);
    error_at(&errors, "foo", WORKER_LAYER);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn malformed_env_names_are_reported() {
    let errors = fails("", &[("SKILLPORT_AUTH____PROVIDER", "github"), ("SKILLPORT_", "x")]);
    error_at(&errors, "SKILLPORT_AUTH____PROVIDER", WORKER_LAYER);
    error_at(&errors, "SKILLPORT_", WORKER_LAYER);
}

#[test]
fn toml_syntax_errors_name_the_file() {
    let errors = fails("[server\nname = 1", &[]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].layer, ADMIN_LAYER);
}

#[test]
fn missing_secret() {
    let admin = "[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\nlocation = \"acme/tools\"\n\
                 token_secret = \"GITHUB_TOKEN\"";
    let errors = fails(admin, &[]);
    let error = error_at(&errors, "marketplaces[0].token_secret", ADMIN_LAYER);
    assert_eq!(
        error.message,
        "names the secret `GITHUB_TOKEN`, which is not set; add it with `wrangler secret put GITHUB_TOKEN`"
    );

    let errors = fails(GITHUB_AUTH, &[("GITHUB_CLIENT_SECRET", "")]);
    let error = error_at(&errors, "auth.client_secret_secret", ADMIN_LAYER);
    assert!(error.message.contains("which is empty"), "{error}");

    let errors = fails(GITHUB_AUTH, &[("SKILLPORT_AUTH__CLIENT_SECRET_SECRET", "GH_SECRET")]);
    let error = error_at(&errors, "auth.client_secret_secret", WORKER_LAYER);
    assert!(error.message.contains("`GH_SECRET`, which is not set"), "{error}");
}

#[test]
fn secret_values_are_never_printed() {
    const VALUE: &str = "ghp_SuperSecretValue123";
    let admin = format!(
        "{GITHUB_AUTH}\n[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\nlocation = \"acme/tools\"\n\
         token_secret = \"GITHUB_TOKEN\"\n\
         [[marketplaces]]\nid = \"pasted\"\nkind = \"github\"\nlocation = \"acme/other\"\n\
         token_secret = \"{VALUE}\""
    );
    let bindings = env(&[("GITHUB_TOKEN", VALUE), ("GITHUB_CLIENT_SECRET", VALUE)]);

    // The second marketplace names the token itself instead of the secret: an error, which must not repeat it.
    let errors = load(DEFAULT_TOML, &admin, &bindings).unwrap_err();
    let pasted = error_at(&errors.0, "marketplaces[1].token_secret", ADMIN_LAYER);
    assert!(pasted.message.contains("may be the secret itself"));
    for printed in [errors.to_string(), format!("{errors:?}"), format!("{errors:#?}")] {
        assert!(!printed.contains(VALUE), "secret printed in: {printed}");
    }

    // Loaded successfully, the secrets are in the configuration and in none of its printed forms.
    let admin = admin.split("[[marketplaces]]\nid = \"pasted\"").next().unwrap();
    let config = load(DEFAULT_TOML, admin, &bindings).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.marketplaces[0].token.as_ref().unwrap().expose(), VALUE);
    for printed in [config.describe(), format!("{config:?}"), format!("{config:#?}")] {
        assert!(!printed.contains(VALUE), "secret printed in: {printed}");
    }
    assert_eq!(format!("{:?} {}", Secret::new(VALUE), Secret::new(VALUE)), "[redacted] [redacted]");
}

#[test]
fn malformed_urls() {
    let admin = r#"
        [auth]
        provider = "oidc"
        issuer = "http://login.example.com"
        client_id = "c"
        client_secret_secret = "CS"
        [[marketplaces]]
        id = "a"
        kind = "github"
        location = "acme/a"
        api_base = "ftp://github.example.com"
        [[marketplaces]]
        id = "b"
        kind = "https"
        location = "http://plugins.example.com/marketplace.json"
        [[marketplaces]]
        id = "c"
        kind = "github"
        location = "just-an-owner"
        [[marketplaces]]
        id = "d"
        kind = "https"
        location = "https://user:pw@plugins.example.com/m.json"
    "#;
    let errors = fails(admin, &[("SKILLPORT_SERVER__PUBLIC_URL", "skills.example.com"), ("CS", "x")]);
    let public = error_at(&errors, "server.public_url", WORKER_LAYER);
    assert!(public.message.contains("is not a valid URL"), "{public}");
    let issuer = error_at(&errors, "auth.issuer", ADMIN_LAYER);
    assert!(issuer.message.contains("must use https"), "{issuer}");
    error_at(&errors, "marketplaces[0].api_base", ADMIN_LAYER);
    error_at(&errors, "marketplaces[1].location", ADMIN_LAYER);
    let github = error_at(&errors, "marketplaces[2].location", ADMIN_LAYER);
    assert!(github.message.contains("owner/repo"), "{github}");
    let creds = error_at(&errors, "marketplaces[3].location", ADMIN_LAYER);
    assert!(!creds.message.contains("pw"), "{creds}");
    // [auth] failed, and its missing master key is reported with it rather than after a second attempt.
    error_at(&errors, "auth.master_key_secret", ADMIN_LAYER);
    assert_eq!(errors.len(), 7, "{errors:#?}");
}

#[test]
fn layouts_are_checked_against_the_kind() {
    let admin = r#"
        [[marketplaces]]
        id = "one"
        kind = "github"
        location = "acme/solo-plugin"
        layout = "plugin"
        [[marketplaces]]
        id = "skills"
        kind = "gitlab"
        location = "acme/skills"
        layout = "skills"
        [[marketplaces]]
        id = "zip"
        kind = "https"
        location = "https://cdn.example.com/skills.tar.gz"
        layout = "skills"
        [[marketplaces]]
        id = "plain"
        kind = "https"
        location = "https://cdn.example.com/.claude-plugin/marketplace.json"
        layout = "marketplace"
        [[marketplaces]]
        id = "default"
        kind = "github"
        location = "acme/plugins"
    "#;
    let config = ok(admin, &[]);
    let layouts: Vec<Layout> = config.marketplaces.iter().map(|m| m.layout).collect();
    assert_eq!(layouts, [Layout::Plugin, Layout::Skills, Layout::Skills, Layout::Marketplace, Layout::Auto]);
    // `config check` shows a layout that is not the default.
    assert!(config.marketplaces[0].describe().contains(", layout plugin)"), "{}", config.marketplaces[0].describe());
    assert!(!config.marketplaces[4].describe().contains("layout"));

    let admin = r#"
        [[marketplaces]]
        id = "plain"
        kind = "https"
        location = "https://cdn.example.com/.claude-plugin/marketplace.json"
        layout = "skills"
        [[marketplaces]]
        id = "typo"
        kind = "github"
        location = "acme/plugins"
        layout = "plugins"
    "#;
    let errors = fails(admin, &[]);
    let plain = error_at(&errors, "marketplaces[0].layout", ADMIN_LAYER);
    assert!(plain.message.contains("cannot have layout `skills`"), "{plain}");
    let typo = error_at(&errors, "marketplaces[1].layout", ADMIN_LAYER);
    assert!(typo.message.contains("expected one of auto, marketplace, plugin, skills"), "{typo}");
}

#[test]
fn an_unknown_key_does_not_hide_the_problems_beside_it() {
    let errors = fails("[catalogue]\nrefresh_second = 60\nsurfaces = [\"claude-web\"]", &[]);
    error_at(&errors, "catalogue.refresh_second", ADMIN_LAYER);
    error_at(&errors, "catalogue.surfaces[0]", ADMIN_LAYER);
}

#[test]
fn loopback_http_is_accepted_for_stand_ins() {
    let admin = r#"
        [[marketplaces]]
        id = "local-https"
        kind = "https"
        location = "http://127.0.0.1:9000/marketplace.json?sig=abc"
        token_secret = "T"
        [[marketplaces]]
        id = "local-ghe"
        kind = "github"
        location = "acme/tools"
        api_base = "http://localhost:9001/api/v3"
    "#;
    let config = ok(admin, &[("T", "t")]);
    assert_eq!(config.marketplaces[1].api_base.as_ref().map(Url::as_str), Some("http://localhost:9001/api/v3"));
    // The start-up line leaves out the https location's query, which may carry a key.
    assert!(!config.describe().contains("sig=abc"), "{}", config.describe());
}

#[test]
fn duplicate_marketplace_id() {
    let admin = r#"
        [[marketplaces]]
        id = "x"
        kind = "bundled"
        location = "marketplace"
        [[marketplaces]]
        id = "y"
        kind = "bundled"
        location = "marketplace"
        [[marketplaces]]
        id = "z"
        kind = "bundled"
        location = "marketplace"
        [[marketplaces]]
        id = "x"
        kind = "github"
        location = "acme/x"
    "#;
    let errors = fails(admin, &[]);
    let error = error_at(&errors, "marketplaces[3].id", ADMIN_LAYER);
    assert_eq!(error.message, "duplicate marketplace id `x` (first used by marketplaces[0])");
    assert_eq!(errors.len(), 1);
}

#[test]
fn invalid_marketplace_id() {
    let errors = fails("", &[("SKILLPORT_MARKETPLACES", r#"[{id="Bad ID!",kind="bundled",location="m"}]"#)]);
    let error = error_at(&errors, "marketplaces[0].id", WORKER_LAYER);
    assert!(error.message.contains("may only contain a-z, 0-9"), "{error}");

    assert!("a-b_c.9".parse::<MarketplaceId>().is_ok());
    assert!("x".repeat(64).parse::<MarketplaceId>().is_ok());
    for bad in ["", "..", ".hidden", "UPPER", "with space", "a/b", &"x".repeat(65)] {
        assert!(bad.parse::<MarketplaceId>().is_err(), "{bad:?}");
    }
}

#[test]
fn local_provider_is_refused_for_a_public_url() {
    let errors = fails("", &[("SKILLPORT_SERVER__PUBLIC_URL", "https://skills.example.com")]);
    // The offending value is the provider, which here comes from the defaults.
    let error = error_at(&errors, "auth.provider", DEFAULTS_LAYER);
    assert_eq!(
        error.message,
        "the local provider is for development only and is refused for the public URL \
         https://skills.example.com/; configure github, oidc, google or auth0"
    );
    assert_eq!(errors.len(), 1);
}

#[test]
fn no_marketplaces() {
    let errors = fails("", &[("SKILLPORT_MARKETPLACES", "[]")]);
    error_at(&errors, "marketplaces", WORKER_LAYER);

    let defaults = DEFAULT_TOML.split("[[marketplaces]]").next().unwrap();
    let errors = load(defaults, "", &BTreeMap::new()).unwrap_err().0;
    error_at(&errors, "marketplaces", DEFAULTS_LAYER);
}

#[test]
fn missing_required_keys_are_reported_by_key() {
    let errors = load("", "", &BTreeMap::new()).unwrap_err().0;
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    for key in [
        "server.public_url",
        "server.name",
        "server.max_body_bytes",
        "catalogue.surfaces",
        "marketplaces",
        "auth.provider",
        "access.default",
    ] {
        assert!(keys.contains(&key), "no error at {key}: {errors:#?}");
    }
}

#[test]
fn other_marketplace_and_rule_mistakes() {
    let admin = r#"
        [[marketplaces]]
        id = "a"
        kind = "bundled"
        location = "../etc"
        token_secret = "T"
        [[marketplaces]]
        id = "b"
        kind = "https"
        location = "https://example.com/m.json"
        ref = "main"
        [[access.rules]]
        effect = "allow"
        marketplace = "nope"
        emails = ["not-an-email"]
        [[access.rules]]
        domains = ["a@b.com"]
    "#;
    let errors = fails(admin, &[("T", "t")]);
    error_at(&errors, "marketplaces[0].location", ADMIN_LAYER);
    error_at(&errors, "marketplaces[0].token_secret", ADMIN_LAYER);
    error_at(&errors, "marketplaces[1].ref", ADMIN_LAYER);
    error_at(&errors, "access.rules[0].marketplace", ADMIN_LAYER);
    error_at(&errors, "access.rules[0].emails[0]", ADMIN_LAYER);
    error_at(&errors, "access.rules[1].effect", ADMIN_LAYER);
    error_at(&errors, "access.rules[1].domains[0]", ADMIN_LAYER);
    assert_eq!(errors.len(), 7, "{errors:#?}");
}

#[test]
fn admins_are_parsed_validated_and_summarised() {
    let config = ok(
        r#"
        [access.admins]
        emails = ["Ops@Example.com"]
        domains = ["Example.com"]
        groups = ["skillport-admins"]
        "#,
        &[("SKILLPORT_ACCESS__ADMINS__TEAMS", r#"["acme/ops"]"#)],
    );
    assert_eq!(
        config.access.admins,
        Admins {
            emails: vec!["ops@example.com".into()],
            domains: vec!["example.com".into()],
            orgs: vec![],
            teams: vec!["acme/ops".into()],
            groups: vec!["skillport-admins".into()],
        }
    );
    let line = config.describe();
    assert!(line.contains("admins: 1 email, 1 domain, 1 team, 1 group;"), "{line}");
    assert!(!line.contains("ops@example.com"), "the log counts admins, never names them");
    assert!(ok("", &[]).describe().contains("admins: the development user;"));

    let errors = fails(
        r#"
        [access.admins]
        emails = ["not-an-email"]
        domains = ["a@b.com"]
        "#,
        &[],
    );
    error_at(&errors, "access.admins.emails[0]", ADMIN_LAYER);
    error_at(&errors, "access.admins.domains[0]", ADMIN_LAYER);
    let errors = fails("[access.admins]\nroles = [\"x\"]", &[]);
    assert!(error_at(&errors, "access.admins.roles", ADMIN_LAYER).message.contains("emails, domains, orgs"));
    let errors = fails("", &[("SKILLPORT_ACCESS__ADMINS", r#"["ops@example.com"]"#)]);
    assert!(error_at(&errors, "access.admins", WORKER_LAYER).message.contains("[access.admins]"), "{errors:#?}");
}

#[test]
fn errors_display_one_per_line() {
    let errors = load("", "", &BTreeMap::new()).unwrap_err();
    assert_eq!(errors.to_string().lines().count(), errors.0.len());
}

#[test]
fn describe_is_one_secret_free_line() {
    let admin = format!(
        "{GITHUB_AUTH}\norg = \"acme\"\n[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\n\
         location = \"acme/tools\"\nref = \"main\"\ntoken_secret = \"GITHUB_TOKEN\""
    );
    let config = ok(&admin, &[("GITHUB_TOKEN", "tok-value"), ("GITHUB_CLIENT_SECRET", "cs-value")]);
    let line = config.describe();
    assert!(!line.contains('\n'));
    assert!(!line.contains("tok-value") && !line.contains("cs-value"), "{line}");
    assert!(line.contains("auth github (org acme)"), "{line}");
    assert!(line.contains("tools (github acme/tools@main, token from GITHUB_TOKEN)"), "{line}");
    assert!(line.contains("admins: none (/status refuses everyone);"), "{line}");
}
// --- download links ----------------------------------------------------------------------------------------------

#[test]
fn local_needs_no_download_key() {
    let config = ok("", &[]);
    assert!(config.server.download_key.is_none() && config.server.download_key_secret.is_none());
    assert_eq!(config.server.download_ttl_seconds, 900);
    let config = ok("[server]\ndownload_ttl_seconds = 60", &[]);
    assert_eq!(config.server.download_ttl_seconds, 60);
}

#[test]
fn download_key_is_resolved_from_its_secret() {
    let config = ok(GITHUB_AUTH, &[("GITHUB_CLIENT_SECRET", "x")]);
    assert_eq!(config.server.download_key_secret.as_deref(), Some("DOWNLOAD_KEY"));
    assert_eq!(config.server.download_key.as_ref().map(Secret::expose), Some(DOWNLOAD_KEY_VALUE));
    for printed in [config.describe(), format!("{config:?}")] {
        assert!(!printed.contains(DOWNLOAD_KEY_VALUE), "download key printed in: {printed}");
    }
    // A Worker var names it as well as the file does.
    let config =
        ok("", &[("SKILLPORT_SERVER__DOWNLOAD_KEY_SECRET", "DL"), ("DL", "an-env-key-an-env-key-an-env-key-42")]);
    assert_eq!(config.server.download_key.as_ref().map(Secret::expose), Some("an-env-key-an-env-key-an-env-key-42"));
}

#[test]
fn download_key_is_derived_from_the_master_key_when_not_set() {
    let without = GITHUB_AUTH.replace("download_key_secret = \"DOWNLOAD_KEY\"", "");
    let derived = ok(&without, &[("GITHUB_CLIENT_SECRET", "x")]).server.download_key.unwrap();
    assert_eq!(derived.expose().len(), 64);
    assert_ne!(derived.expose(), DOWNLOAD_KEY_VALUE);
    let again = ok(&without, &[("GITHUB_CLIENT_SECRET", "x")]).server.download_key.unwrap();
    assert_eq!(derived.expose(), again.expose(), "stable across isolates");
    let other = ok(&without, &[("GITHUB_CLIENT_SECRET", "x"), ("OAUTH_KEY", "another-master-key-0123456789abcdef")]);
    assert_ne!(other.server.download_key.unwrap().expose(), derived.expose());

    // Without either key, both are reported.
    let errors = fails(
        "",
        &[
            ("SKILLPORT_SERVER__PUBLIC_URL", "https://skills.example.com"),
            ("SKILLPORT_AUTH", r#"{provider="github",client_id="x",client_secret_secret="GH"}"#),
            ("GH", "s"),
        ],
    );
    error_at(&errors, "server.download_key_secret", WORKER_LAYER);
    let master = error_at(&errors, "auth.master_key_secret", WORKER_LAYER);
    assert!(master.message.starts_with("required with the `github` provider:"), "{master}");
}

#[test]
fn download_key_secret_must_be_set_and_long_enough() {
    let errors = fails("[server]\ndownload_key_secret = \"NOPE\"", &[]);
    let error = error_at(&errors, "server.download_key_secret", ADMIN_LAYER);
    assert_eq!(error.message, "names the secret `NOPE`, which is not set; add it with `wrangler secret put NOPE`");

    let errors = fails("[server]\ndownload_key_secret = \"SHORT\"", &[("SHORT", "tooshort-value")]);
    let error = error_at(&errors, "server.download_key_secret", ADMIN_LAYER);
    assert!(error.message.contains("shorter than 32 characters"), "{error}");
    let shown = ConfigErrors(errors.clone()).to_string();
    assert!(!shown.contains("tooshort-value"), "{shown}");

    let errors = fails("[server]\ndownload_key_secret = \"\"", &[]);
    error_at(&errors, "server.download_key_secret", ADMIN_LAYER);
}

#[test]
fn download_ttl_is_bounded() {
    let errors = fails("", &[("SKILLPORT_SERVER__DOWNLOAD_TTL_SECONDS", "0")]);
    assert_eq!(error_at(&errors, "server.download_ttl_seconds", WORKER_LAYER).message, "must be greater than 0");
    let errors = fails("[server]\ndownload_ttl_seconds = 86401", &[]);
    assert!(error_at(&errors, "server.download_ttl_seconds", ADMIN_LAYER).message.contains("at most 86400"));
}

/// The exact texts of the bounds on numbers and signing keys, as `skillport check` prints them.
#[test]
fn number_and_key_length_errors_read_exactly_so() {
    let cases = [
        ("server.max_body_bytes", "0", "must be greater than 0"),
        (
            "server.download_ttl_seconds",
            "86401",
            "must be at most 86400 (a day): a download link is a bearer capability, keep it short-lived",
        ),
        (
            "server.sse_backlog_bytes",
            "67108865",
            "must be at most 67108864 (64 MiB): a Workers isolate has 128 MB for every session it holds",
        ),
        ("catalogue.max_file_bytes", "0", "must be greater than 0"),
        ("catalogue.upstream_timeout_ms", "99", "must be between 100 and 60000"),
        ("catalogue.subrequests_per_refresh", "10001", "must be between 5 and 10000"),
        ("auth.code_ttl_seconds", "601", "must be between 1 and 600 seconds"),
        ("auth.access_ttl_seconds", "0", "must be between 1 and 86400 seconds"),
        ("auth.refresh_ttl_seconds", "31536001", "must be between 1 and 31536000 seconds"),
        ("auth.new_clients_per_address_per_hour", "1000001", "must be between 1 and 1000000"),
    ];
    for (key, value, message) in cases {
        let var = format!("SKILLPORT_{}", key.to_ascii_uppercase().replace('.', "__"));
        let errors = fails("", &[(var.as_str(), value)]);
        assert_eq!(error_at(&errors, key, WORKER_LAYER).message, message, "{key}");
    }
    for key in ["server.download_key_secret", "auth.master_key_secret"] {
        let var = format!("SKILLPORT_{}", key.to_ascii_uppercase().replace('.', "__"));
        let errors = fails("", &[(var.as_str(), "SHORT_KEY"), ("SHORT_KEY", "0123456789")]);
        assert_eq!(
            error_at(&errors, key, WORKER_LAYER).message,
            "names the secret `SHORT_KEY`, which is shorter than 32 characters; store a random key instead: \
             `openssl rand -base64 32 | wrangler secret put SHORT_KEY`"
        );
    }
}

#[test]
fn grant_store_sweep_interval() {
    assert_eq!(ok("", &[]).tokens.sweep_seconds, 3600);
    assert_eq!(ok("", &[("SKILLPORT_AUTH__SWEEP_SECONDS", "1")]).tokens.sweep_seconds, 1);
    let errors = fails("[auth]\nsweep_seconds = 0", &[]);
    assert!(error_at(&errors, "auth.sweep_seconds", ADMIN_LAYER).message.contains("between 1 and 86400"));
    let errors = fails("", &[("SKILLPORT_AUTH__SWEEP_SECONDS", "86401")]);
    error_at(&errors, "auth.sweep_seconds", WORKER_LAYER);
}

#[test]
fn client_limits() {
    let config = ok("", &[]);
    assert_eq!(
        (config.tokens.max_clients, config.tokens.new_clients_per_address_per_hour, config.tokens.new_clients_per_hour),
        (10_000, 300, 3_000)
    );
    assert_eq!(ok("", &[("SKILLPORT_AUTH__MAX_CLIENTS", "5")]).tokens.max_clients, 5);
    let errors = fails("[auth]\nmax_clients = 0", &[]);
    assert!(error_at(&errors, "auth.max_clients", ADMIN_LAYER).message.contains("between 1 and 1000000"));
    let errors = fails("", &[("SKILLPORT_AUTH__NEW_CLIENTS_PER_HOUR", "0")]);
    error_at(&errors, "auth.new_clients_per_hour", WORKER_LAYER);
    assert_eq!(config.tokens.unused_client_seconds, 86_400);
    let errors = fails("[auth]\nunused_client_seconds = 0", &[]);
    assert!(error_at(&errors, "auth.unused_client_seconds", ADMIN_LAYER).message.contains("between 1 and"));
}

#[test]
fn sse_backlog_is_bounded() {
    let config = ok("", &[("SKILLPORT_SERVER__SSE_BACKLOG_BYTES", "65536")]);
    assert_eq!(config.server.sse_backlog_bytes, 65_536);
    let errors = fails("", &[("SKILLPORT_SERVER__SSE_BACKLOG_BYTES", "0")]);
    assert_eq!(error_at(&errors, "server.sse_backlog_bytes", WORKER_LAYER).message, "must be greater than 0");
    let errors = fails("[server]\nsse_backlog_bytes = 67108865", &[]);
    assert!(error_at(&errors, "server.sse_backlog_bytes", ADMIN_LAYER).message.contains("at most 67108864"));
}

#[test]
fn webhook_secret_names_a_secret_of_a_fetched_marketplace() {
    const KEY: &str = "0123456789abcdef0123";
    let admin = "[[marketplaces]]\nid = \"tools\"\nkind = \"github\"\nlocation = \"acme/tools\"\n\
                 webhook_secret = \"HOOK_KEY\"";
    let config = load(DEFAULT_TOML, admin, &env(&[("HOOK_KEY", KEY)])).unwrap_or_else(|e| panic!("{e}"));
    let m = &config.marketplaces[0];
    assert_eq!(
        (m.webhook_secret.as_deref(), m.webhook_key.as_ref().map(|k| k.expose())),
        (Some("HOOK_KEY"), Some(KEY))
    );
    assert!(m.describe().contains("webhooks signed with HOOK_KEY") && !m.describe().contains(KEY));
    // Missing, too short, or on a bundled marketplace: errors at the key.
    let errors = load(DEFAULT_TOML, admin, &env(&[])).unwrap_err();
    assert!(error_at(&errors.0, "marketplaces[0].webhook_secret", ADMIN_LAYER).message.contains("not set"));
    let errors = load(DEFAULT_TOML, admin, &env(&[("HOOK_KEY", "tiny1")])).unwrap_err();
    let short = error_at(&errors.0, "marketplaces[0].webhook_secret", ADMIN_LAYER);
    assert!(short.message.contains("shorter than 16"), "{}", short.message);
    let bundled = "[[marketplaces]]\nid = \"ex\"\nkind = \"bundled\"\nlocation = \"marketplace\"\n\
                   webhook_secret = \"HOOK_KEY\"";
    let errors = load(DEFAULT_TOML, bundled, &env(&[("HOOK_KEY", KEY)])).unwrap_err();
    assert!(error_at(&errors.0, "marketplaces[0].webhook_secret", ADMIN_LAYER).message.contains("no webhook"));
}

#[test]
fn the_embedded_files_parsed_ahead_give_the_same_configuration_and_errors() {
    // Each thread has its own parse cache, as each isolate has: one loads without parsing ahead, one after.
    let vars = env(&[("SKILLPORT_AUTH__OPEN", "true"), ("SKILLPORT_SERVER__NAME", "Ahead")]);
    let bad = env(&[("SKILLPORT_CATALOGUE__REFRESH_SECONDS", "soon")]);
    let cold = {
        let (vars, bad) = (vars.clone(), bad.clone());
        std::thread::spawn(move || (format!("{:?}", load_embedded(&vars)), format!("{:?}", load_embedded(&bad))))
            .join()
            .unwrap()
    };
    let ahead = std::thread::spawn(move || {
        parse_embedded();
        (format!("{:?}", load_embedded(&vars)), format!("{:?}", load_embedded(&bad)))
    })
    .join()
    .unwrap();
    assert!(cold.0.starts_with("Ok("), "{}", cold.0);
    assert!(cold.1.starts_with("Err("), "{}", cold.1);
    assert_eq!(cold, ahead);
    // What the start hook leaves behind: both files parsed, so the first load does not parse them again.
    std::thread::spawn(|| {
        let parsed =
            || layers::PARSED_EMBEDDED.with(|cache| cache.iter().map(|c| c.get().is_some()).collect::<Vec<_>>());
        assert_eq!(parsed(), [false, false]);
        parse_embedded();
        assert_eq!(parsed(), [true, true]);
    })
    .join()
    .unwrap();
}
