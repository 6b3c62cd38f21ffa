//! A stand-in GitHub (the OAuth web flow's token endpoint and the REST API) over `CannedClient`.

use serde_json::json;
use skillport_http::CannedClient;

use super::{form, json_response, ACCESS_TOKEN, CLIENT_SECRET, CODE};

pub const WEB: &str = "https://github.com";
pub const API: &str = "https://api.github.com";

/// A GitHub that accepts [`CODE`] and knows user `ada` (id 1001) with a verified primary email.
pub fn github(web: &str, api: &str) -> CannedClient {
    let http = CannedClient::new();
    http.route("POST", &format!("{web}/login/oauth/access_token"), |req| {
        let fields = form(&req.body);
        let field = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        if field("code").as_deref() == Some(CODE) && field("client_secret").as_deref() == Some(CLIENT_SECRET) {
            Ok(json_response(200, &json!({"access_token": ACCESS_TOKEN, "token_type": "bearer", "scope": "read:org,user:email"})))
        } else {
            // GitHub's way: 200 with an error field.
            Ok(json_response(200, &json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})))
        }
    });
    http.on_get(
        &format!("{api}/user"),
        json_response(200, &json!({"id": 1001, "login": "ada", "name": "Ada Lovelace", "email": null})),
    );
    http.on_get(
        &format!("{api}/user/emails"),
        json_response(
            200,
            &json!([
                {"email": "ada@users.noreply.github.com", "primary": false, "verified": true, "visibility": null},
                {"email": "ada@example.com", "primary": true, "verified": true, "visibility": "private"},
            ]),
        ),
    );
    http
}
