//! The last good copy of a marketplace and where it is kept: the [`SnapshotStore`] (KV on Workers, memory natively),
//! the compact encoding of a [`Snapshot`] and of what is [`Stored`] per marketplace, and the key it is stored under.
//! Knows nothing of sources or of how a refresh decides what to keep.
//!
//! Three encodings have been written to KV and all three still decode: `SPS1` (before partial loads), `SPS2` (with
//! the `complete` flag; why an external plugin could not be fetched was then a file of the tree, lifted into
//! [`Snapshot::external_failures`] on decoding) and `SPS3`, written now, which stores those failures beside the files.

use crate::config::MarketplaceConfig;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use skillport_sources::layout::Layout;
use skillport_sources::tree::{external_folder, EXTERNAL_ROOT};
use skillport_sources::FileSet;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// Where last good copies live between isolates: KV on Workers, memory in tests and the admin CLI.
#[async_trait(?Send)]
pub trait SnapshotStore {
    async fn load(&self, key: &str) -> Option<Vec<u8>>;
    async fn save(&self, key: &str, bytes: Vec<u8>);
}

/// The in-memory store: a real store, used natively.
#[derive(Default)]
pub struct MemoryStore {
    map: RefCell<HashMap<String, Vec<u8>>>,
}

#[async_trait(?Send)]
impl SnapshotStore for MemoryStore {
    async fn load(&self, key: &str) -> Option<Vec<u8>> {
        self.map.borrow().get(key).cloned()
    }
    async fn save(&self, key: &str, bytes: Vec<u8>) {
        self.map.borrow_mut().insert(key.to_string(), bytes);
    }
}

/// One marketplace as last fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub revision: String,
    pub fetched_at: u64,
    pub files: FileSet,
    /// False for what a load that ran out of request budget gave ([`Fetched::Partial`]): the next refresh carries on.
    pub complete: bool,
    /// Why each external plugin (by name) that is not in `files` could not be fetched the last time it was tried,
    /// so its status says so until a later try succeeds, even while upstream is down or the budget is spent.
    pub external_failures: BTreeMap<String, String>,
}

const MAGIC_V1: &[u8; 4] = b"SPS1";
const MAGIC_V2: &[u8; 4] = b"SPS2";
const MAGIC: &[u8; 4] = b"SPS3";

/// Where copies encoded as `SPS2` kept a fetch failure: one file per plugin, named by the plugin.
fn legacy_failure_folder() -> String {
    format!("{EXTERNAL_ROOT}/.fetch-errors/")
}

impl Snapshot {
    /// A compact length-prefixed encoding: KV values are bytes, and JSON with base64 would cost a third more.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.files.iter().map(|(p, b)| p.len() + b.len() + 8).sum::<usize>());
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(self.complete as u8);
        out.extend_from_slice(&self.fetched_at.to_le_bytes());
        put(out, self.revision.as_bytes());
        out.extend_from_slice(&(self.files.len() as u32).to_le_bytes());
        for (path, bytes) in self.files.iter() {
            put(out, path.as_bytes());
            put(out, bytes);
        }
        out.extend_from_slice(&(self.external_failures.len() as u32).to_le_bytes());
        for (name, error) in &self.external_failures {
            put(out, name.as_bytes());
            put(out, error.as_bytes());
        }
    }

    /// `None` for anything that is not a whole, well-formed snapshot; a damaged copy is ignored, never trusted.
    pub fn decode(bytes: &[u8]) -> Option<Snapshot> {
        let mut r = Reader { bytes, pos: 0 };
        let s = Snapshot::decode_from(&mut r)?;
        (r.pos == bytes.len()).then_some(s)
    }

    fn decode_from(r: &mut Reader<'_>) -> Option<Snapshot> {
        let magic = r.take(4)?;
        let complete = match magic {
            m if m == MAGIC || m == MAGIC_V2 => match r.take(1)?[0] {
                0 => false,
                1 => true,
                _ => return None,
            },
            // Written before partial loads existed: always whole.
            m if m == MAGIC_V1 => true,
            _ => return None,
        };
        let fetched_at = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let revision = String::from_utf8(r.chunk()?.to_vec()).ok()?;
        let count = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
        let mut files = FileSet::new();
        for _ in 0..count {
            let path = std::str::from_utf8(r.chunk()?).ok()?.to_string();
            let data = r.chunk()?.to_vec();
            files.insert(&path, data).ok()?;
        }
        let mut external_failures = BTreeMap::new();
        if magic == MAGIC {
            let count = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
            for _ in 0..count {
                let name = std::str::from_utf8(r.chunk()?).ok()?.to_string();
                let error = std::str::from_utf8(r.chunk()?).ok()?.to_string();
                external_failures.insert(name, error);
            }
        } else {
            lift_failure_files(&mut files, &mut external_failures);
        }
        Some(Snapshot { revision, fetched_at, files, complete, external_failures })
    }
}

/// Moves the fetch failures an older copy kept as files of its tree into `failures`, read as the loader then read
/// them (lossily as UTF-8), so a copy already in KV shows the same plugin statuses as when it was written.
fn lift_failure_files(files: &mut FileSet, failures: &mut BTreeMap<String, String>) {
    let folder = legacy_failure_folder();
    let mut lifted = Vec::new();
    for (path, bytes) in files.iter() {
        let Some(name) = path.strip_prefix(folder.as_str()) else { continue };
        if external_folder(name).is_some() {
            lifted.push(path.to_string());
            failures.insert(name.to_string(), String::from_utf8_lossy(bytes).into_owned());
        }
    }
    if !lifted.is_empty() {
        files.retain(|path| !lifted.iter().any(|l| l == path));
    }
}

/// What the store keeps for one marketplace: the copy served, and a newer revision whose load is still under way
/// (served only once whole, so a big change never shows half-loaded over a good copy).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub served: Snapshot,
    pub next: Option<Snapshot>,
}

impl Stored {
    pub fn encode(&self) -> Vec<u8> {
        Stored::encode_of(&self.served, self.next.as_ref())
    }

    /// The encoding of `Stored { served, next }`, from borrowed snapshots (a copy of their files just to encode
    /// them would double a large marketplace in memory for the moment).
    pub fn encode_of(served: &Snapshot, next: Option<&Snapshot>) -> Vec<u8> {
        let mut out = served.encode();
        if let Some(next) = next {
            next.encode_into(&mut out);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Stored> {
        let mut r = Reader { bytes, pos: 0 };
        let served = Snapshot::decode_from(&mut r)?;
        let next = if r.pos < bytes.len() { Some(Snapshot::decode_from(&mut r)?) } else { None };
        (r.pos == bytes.len()).then_some(Stored { served, next })
    }
}

fn put(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn chunk(&mut self) -> Option<&'a [u8]> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        self.take(n)
    }
}

/// The store key of a marketplace: its id plus everything that says where it is read from, so a configuration
/// change never serves the old location's copy.
pub fn store_key(m: &MarketplaceConfig) -> String {
    let mut h = Sha256::new();
    for part in [
        m.kind.as_str(),
        &m.location,
        m.git_ref.as_deref().unwrap_or(""),
        m.api_base.as_ref().map(|u| u.as_str()).unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    // Only a layout other than the default counts, so the keys of copies stored before layouts existed still hold.
    if m.layout != Layout::Auto {
        h.update(m.layout.as_str().as_bytes());
        h.update([0]);
    }
    let hex: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("marketplace:{}:{hex}", m.id)
}
