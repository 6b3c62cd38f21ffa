//! The grant store's records and the rules that change them: what a client, a code, a grant and an access token
//! are, when a code may be taken and a refresh token rotated (and when presenting one is a replay), and when a grant
//! may be swept. Pure: nothing here reads or writes storage, so every backend applies the same rules by calling these
//! methods inside its atomic step. The serde form of each record is what is stored: changing it breaks stored data.

use serde::{Deserialize, Serialize};

use super::super::crypto::SealedIdentity;
use super::super::{ClientId, GrantId, PkceChallenge, RedirectUri, ResourceUri, TokenHash};

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// A public client (PKCE alone): what Claude registers as.
    None,
    ClientSecretPost,
    ClientSecretBasic,
}

impl ClientAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::None => "none",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ClientAuthMethod::None, ClientAuthMethod::ClientSecretPost, ClientAuthMethod::ClientSecretBasic]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// A client: registered here (RFC 7591) or described by its Client ID Metadata Document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub client_id: ClientId,
    /// Never empty; each valid per [`super::registration::validate_redirect_uri`].
    pub redirect_uris: Vec<RedirectUri>,
    pub client_name: Option<String>,
    pub auth_method: ClientAuthMethod,
    /// Present exactly when `auth_method` is not `None`.
    pub secret_hash: Option<TokenHash>,
    pub issued_at: u64,
    /// True for a Client ID Metadata Document client (its id is the document's URL).
    #[serde(default)]
    pub metadata_document: bool,
}

impl ClientRecord {
    /// Exact, byte-for-byte match against a registered redirect URI (OAuth 2.1 section 4.1.1; no prefix, no
    /// normalisation), which is what closes open redirects.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.registered_redirect(uri).is_some()
    }

    /// The registered redirect URI that is exactly `uri` (compared as [`ClientRecord::allows_redirect`] does).
    pub fn registered_redirect(&self, uri: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|r| r.as_str() == uri)
    }

    /// The name shown on the consent page: the registered name, else the client id.
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().unwrap_or(self.client_id.as_str())
    }
}

/// One authorization code, until redeemed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub redirect_uri: RedirectUri,
    pub code_challenge: PkceChallenge,
    pub resource: ResourceUri,
    pub scope: String,
    pub expires_at: u64,
}

/// A code's state in the store: codes are kept after use (as the grant they belong to) so that a replay can be told
/// from a guess, and the grant revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CodeState {
    Unused(CodeRecord),
    Used { grant_id: GrantId },
}

impl CodeState {
    /// The atomic step of redeeming: the first call returns the record and leaves `Used`; every later one says so.
    pub fn take(&mut self) -> CodeTake {
        match self {
            CodeState::Unused(record) => {
                let record = record.clone();
                *self = CodeState::Used { grant_id: record.grant_id.clone() };
                CodeTake::Taken(record)
            }
            CodeState::Used { grant_id } => CodeTake::AlreadyUsed { grant_id: grant_id.clone() },
        }
    }
}

/// What [`GrantStore::take_code`](super::GrantStore::take_code) found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CodeTake {
    /// First use: the code is now spent.
    Taken(CodeRecord),
    /// Replay: the code was redeemed before. The caller revokes the grant.
    AlreadyUsed {
        grant_id: GrantId,
    },
    Unknown,
}

/// One user's authorization of one client for one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub resource: ResourceUri,
    pub scope: String,
    pub identity: SealedIdentity,
    pub created_at: u64,
    /// Kept as a tombstone: a revoked grant stays revoked, whatever arrives later.
    pub revoked: bool,
    /// The newest refresh token, not yet used; `None` until the code is redeemed.
    pub refresh_current: Option<TokenHash>,
    /// The token `refresh_current` replaced. It still works until `refresh_current` is first used (a client whose
    /// response was lost can retry); after that it is a replay.
    pub refresh_previous: Option<TokenHash>,
    /// When the live refresh tokens die (each rotation moves it on).
    pub refresh_expires_at: u64,
    /// The access token issued with `refresh_current` (in the same token response), deleted when that refresh token
    /// leaves the grant. `None` in grants stored before this was tracked.
    #[serde(default)]
    pub access_current: Option<TokenHash>,
    /// The access token issued with `refresh_previous`.
    #[serde(default)]
    pub access_previous: Option<TokenHash>,
    /// When every code and token issued from this grant has expired; the sweep deletes the grant
    /// [`GRANT_SWEEP_MARGIN_SECONDS`] later. 0 in grants stored before this was tracked (see [`GrantRecord::sweepable`]).
    #[serde(default)]
    pub tokens_expire_at: u64,
}

/// The outcome of presenting a refresh token to its grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateDecision {
    Rotated,
    /// A superseded token: the grant is now revoked.
    Replayed,
    Expired,
    Revoked,
}

/// How long a grant is kept after every code and token issued from it has expired: room for a token request that
/// checked its code or token just before it expired and is still between two store calls.
pub const GRANT_SWEEP_MARGIN_SECONDS: u64 = 30;

/// For grants stored before [`GrantRecord::tokens_expire_at`] existed: the longest a code (600 s) or an access token
/// (`auth.access_ttl_seconds`, at most a day) may outlive the grant's refresh chain or creation.
const LEGACY_GRANT_LINGER_SECONDS: u64 = 86_400;

impl GrantRecord {
    /// Starts the refresh chain when the code is redeemed, with `access` issued alongside. False if the grant is
    /// revoked or already started.
    pub fn begin_refresh(&mut self, first: TokenHash, access: &IssuedAccess, now: u64, ttl: u64) -> bool {
        if self.revoked || self.refresh_current.is_some() {
            return false;
        }
        self.refresh_current = Some(first);
        self.access_current = Some(access.token);
        self.refresh_expires_at = now.saturating_add(ttl);
        self.tokens_issued(access);
        true
    }

    /// Presents `presented` (a refresh token of this grant) and, if it is live, replaces it with `next`, issued with
    /// `access`.
    ///
    /// - the current token: rotates; the previous one dies (the new one has now been used), and so does the access
    ///   token issued with it;
    /// - the previous token, while the current one was never used (grace): rotates again, `next` replaces the
    ///   unused current one (and `access` the access token issued with it), the previous one keeps its grace;
    /// - any other token of this grant (superseded, and its successor used): replay, the grant is revoked.
    pub fn rotate(
        &mut self,
        presented: &TokenHash,
        next: TokenHash,
        access: &IssuedAccess,
        now: u64,
        ttl: u64,
    ) -> RotateDecision {
        if self.revoked {
            return RotateDecision::Revoked;
        }
        let is = |slot: &Option<TokenHash>| slot.as_ref().is_some_and(|h| h.ct_eq(presented));
        let (current, previous) = (is(&self.refresh_current), is(&self.refresh_previous));
        if !current && !previous {
            self.revoked = true;
            return RotateDecision::Replayed;
        }
        if now >= self.refresh_expires_at {
            return RotateDecision::Expired;
        }
        if current {
            self.refresh_previous = self.refresh_current;
            self.access_previous = self.access_current;
        }
        // Otherwise (grace) the current token was never used; `next` takes its place.
        self.refresh_current = Some(next);
        self.access_current = Some(access.token);
        self.refresh_expires_at = now.saturating_add(ttl);
        self.tokens_issued(access);
        RotateDecision::Rotated
    }

    fn tokens_issued(&mut self, access: &IssuedAccess) {
        self.tokens_expire_at = self.tokens_expire_at.max(self.refresh_expires_at).max(access.record.expires_at);
    }

    /// The access tokens this grant knows it issued with its live refresh tokens.
    pub fn access_tokens(&self) -> impl Iterator<Item = TokenHash> + '_ {
        self.access_current.iter().chain(self.access_previous.iter()).copied()
    }

    /// Whether `token` is one of the grant's two live refresh tokens (and the grant itself still live at `now`): its
    /// record must stay, whatever that record's own expiry says (the previous token keeps its grace as long as the
    /// chain lives).
    pub(super) fn holds_live_refresh(&self, token: &str, now: u64) -> bool {
        let is = |slot: &Option<TokenHash>| slot.is_some_and(|h| String::from(h) == token);
        !self.revoked && now < self.refresh_expires_at && (is(&self.refresh_current) || is(&self.refresh_previous))
    }

    /// Whether the sweep may delete this grant at `now`: every code and token issued from it has expired, a margin
    /// ago. A revoked grant is kept as long (its tombstone answers for the tokens still stored).
    pub fn sweepable(&self, now: u64) -> bool {
        let until = if self.tokens_expire_at > 0 {
            self.tokens_expire_at
        } else {
            self.refresh_expires_at.max(self.created_at).saturating_add(LEGACY_GRANT_LINGER_SECONDS)
        };
        now >= until.saturating_add(GRANT_SWEEP_MARGIN_SECONDS)
    }
}

/// What [`GrantStore::rotate_refresh`](super::GrantStore::rotate_refresh) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rotation {
    /// The new token is live; here is the grant it belongs to.
    Rotated(Box<GrantRecord>),
    /// The token was superseded: the grant is now revoked.
    Replayed(GrantId),
    /// The grant is revoked or its refresh tokens expired.
    Dead,
    Unknown,
}

/// One access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub resource: ResourceUri,
    pub scope: String,
    pub expires_at: u64,
}

/// An access token issued together with a refresh token: stored by the same atomic step that stores the refresh token
/// ([`GrantStore::begin_refresh`](super::GrantStore::begin_refresh), [`GrantStore::rotate_refresh`](super::GrantStore::rotate_refresh)), and recorded in the grant so that it can be deleted
/// when that refresh token leaves the grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedAccess {
    pub token: TokenHash,
    pub record: AccessRecord,
}
