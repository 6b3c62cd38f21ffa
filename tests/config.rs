//! The configuration API as the rest of the Worker sees it: embedded files, a map of bindings, one typed result.

use std::collections::BTreeMap;

use skillport::config::{self, AuthConfig, ConfigErrors, ProviderKind, SourceKind, Surface};

fn bindings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn embedded_configuration_serves_the_example_marketplace_locally() {
    let config = config::load_embedded(&BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((config.auth.provider(), config.auth.kind()), (ProviderKind::Local, "local"));
    assert_eq!(config.server.public_url.as_str(), "http://localhost:8787/");
    assert_eq!(config.catalogue.surfaces, Surface::ALL);
    assert_eq!(config.marketplaces.len(), 1);
    assert_eq!(config.marketplaces[0].kind, SourceKind::Bundled);
    println!("{}", config.describe());
}

#[test]
fn a_deployment_configured_by_worker_vars_alone() {
    let env = bindings(&[
        ("SKILLPORT_SERVER__PUBLIC_URL", "https://skills.example.com"),
        ("SKILLPORT_AUTH__PROVIDER", "github"),
        ("SKILLPORT_AUTH__CLIENT_ID", "Iv1.abc"),
        ("SKILLPORT_AUTH__CLIENT_SECRET_SECRET", "GITHUB_CLIENT_SECRET"),
        ("SKILLPORT_AUTH__ORG", "acme"),
        (
            "SKILLPORT_MARKETPLACES",
            r#"[{id = "tools", kind = "github", location = "acme/tools", token_secret = "GITHUB_TOKEN"}]"#,
        ),
        ("GITHUB_CLIENT_SECRET", "client-secret-value"),
        ("SKILLPORT_SERVER__DOWNLOAD_KEY_SECRET", "DOWNLOAD_KEY"),
        ("DOWNLOAD_KEY", "0123456789abcdef0123456789abcdef"),
        ("GITHUB_TOKEN", "token-value"),
        ("SKILLPORT_AUTH__MASTER_KEY_SECRET", "OAUTH_KEY"),
        ("OAUTH_KEY", "oauth-master-key-0123456789abcdef0123"),
    ]);
    let config = config::load_embedded(&env).unwrap_or_else(|e| panic!("{e}"));
    let AuthConfig::Github { client_secret, org, .. } = &config.auth else { panic!("{:?}", config.auth) };
    assert_eq!(client_secret.expose(), "client-secret-value");
    assert_eq!(org.as_deref(), Some("acme"));
    assert_eq!(config.marketplaces[0].token.as_ref().map(|t| t.expose()), Some("token-value"));
    let line = config.describe();
    println!("{line}");
    assert!(!line.contains("token-value") && !line.contains("client-secret-value"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let env = bindings(&[
        ("SKILLPORT_SERVER__PUBLIC_URL", "https://skills.example.com"),
        ("SKILLPORT_CATALOGUE__REFRESH_SECONDS", "soon"),
        (
            "SKILLPORT_MARKETPLACES",
            r#"[{id = "a", kind = "svn", location = "x"}, {id = "a", kind = "github", location = "o/r", token_secret = "GITHUB_TOKEN"}]"#,
        ),
    ]);
    let ConfigErrors(errors) = config::load_embedded(&env).unwrap_err();
    let shown = ConfigErrors(errors.clone()).to_string();
    println!("{shown}");
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "catalogue.refresh_seconds",
            "marketplaces[0].kind",
            "marketplaces[1].id",
            "marketplaces[1].token_secret",
            "auth.provider"
        ]
    );
    assert_eq!(shown.lines().count(), 5);
}

/// The worked examples in `examples/*/skillport.toml` are complete configurations: each loads with only its secrets.
#[test]
fn worked_examples_load_with_their_secrets() {
    let secrets = bindings(&[
        ("OAUTH_KEY", "an-example-master-key-0123456789abcdef"),
        ("GOOGLE_CLIENT_SECRET", "g-secret"),
        ("GITHUB_TOKEN", "ghp-token"),
        ("OKTA_CLIENT_SECRET", "okta-secret"),
        ("GITLAB_TOKEN", "glpat-token"),
        ("AUTH0_CLIENT_SECRET", "auth0-secret"),
    ]);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = Vec::new();
    for name in ["google-workspace", "aggregator", "repointed"] {
        let admin = std::fs::read_to_string(root.join(name).join("skillport.toml")).unwrap();
        let config = config::load(config::DEFAULT_TOML, &admin, &secrets).unwrap_or_else(|e| panic!("{name}: {e}"));
        seen.push((name, config.auth.provider(), config.marketplaces.len()));
        assert!(config.tokens.master_key.is_some() && config.server.download_key.is_some(), "{name}");
    }
    assert_eq!(
        seen,
        [
            ("google-workspace", ProviderKind::Google, 1),
            ("aggregator", ProviderKind::Oidc, 3),
            ("repointed", ProviderKind::Auth0, 2)
        ]
    );
    // Without its secrets, an example says which are missing.
    let admin = std::fs::read_to_string(root.join("aggregator/skillport.toml")).unwrap();
    let errors = config::load(config::DEFAULT_TOML, &admin, &bindings(&[])).unwrap_err().to_string();
    for key in ["auth.client_secret_secret", "auth.master_key_secret", "marketplaces[0].token_secret"] {
        assert!(errors.contains(key), "{key} in {errors}");
    }
}

/// One build, re-pointed: the admin file given as the Worker var SKILLPORT_ADMIN_TOML replaces the embedded one, and
/// its errors say so.
#[test]
fn the_admin_file_can_come_from_a_worker_var() {
    let admin = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/repointed/skillport.toml"),
    )
    .unwrap();
    let mut env = bindings(&[("OAUTH_KEY", "an-example-master-key-0123456789abcdef"), ("AUTH0_CLIENT_SECRET", "x")]);
    env.insert(config::ADMIN_VAR.into(), admin.clone());
    let cfg = config::load_embedded(&env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.auth.provider(), ProviderKind::Auth0);
    assert_eq!(cfg.server.name, "Widgets Skills");
    env.remove("AUTH0_CLIENT_SECRET");
    let errors = config::load_embedded(&env).unwrap_err();
    assert!(errors.0.iter().any(|e| e.key == "auth.client_secret_secret" && e.layer == config::ADMIN_VAR_LAYER));
}
