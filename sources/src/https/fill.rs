//! A listed HTTPS marketplace's files as they arrive one by one: within the size limits and the client's request
//! budget, reusing what a previous copy proves unchanged, and noting what a partial load learnt so the next run
//! carries on instead of starting again.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{HttpsSource, PARTIAL_FILE};
use crate::archive::Limits;
use crate::budget::Budget;
use crate::files::FileSet;
use crate::remote::Revision;
use crate::tree::MARKETPLACE_FILE;
use crate::{Fetched, Previous, SourceError};
use skillport_http::HttpClient;

/// A listed form's files as they arrive one by one, within the size [`Limits`] and the client's request budget: once
/// the budget is spent nothing more is asked for, and the result is [`Fetched::Partial`].
pub(super) struct Fill<'p> {
    pub(super) previous: Option<Previous<'p>>,
    /// Paths a partial copy of the same revision found absent.
    pub(super) absent_before: BTreeSet<String>,
    pub(super) files: FileSet,
    pub(super) absent: BTreeSet<String>,
    pub(super) size: Budget,
    /// The budget ran out: every further file is pending.
    pub(super) stopped: bool,
    pub(super) pending: usize,
}

impl<'p> Fill<'p> {
    pub(super) fn new(limits: Limits, previous: Option<Previous<'p>>, same: bool) -> Self {
        let absent_before = previous
            .filter(|_| same)
            .and_then(|p| p.files.get(PARTIAL_FILE))
            .and_then(|b| serde_json::from_slice::<PartialNote>(b).ok())
            .map(|n| n.absent.into_iter().collect())
            .unwrap_or_default();
        Self {
            previous,
            absent_before,
            files: FileSet::new(),
            absent: BTreeSet::new(),
            size: Budget::new(limits),
            stopped: false,
            pending: 0,
        }
    }

    pub(super) fn previous(&self, path: &str) -> Option<&'p [u8]> {
        self.previous.and_then(|p| p.files.get(path))
    }

    /// The file from the server; `None` when it has none (or the budget is spent, which counts it as pending).
    pub(super) async fn fetch<C: HttpClient>(
        &mut self,
        source: &HttpsSource<C>,
        path: &str,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        if self.absent_before.contains(path) {
            self.absent.insert(path.to_string());
            return Ok(None);
        }
        if self.stopped {
            self.pending += 1;
            return Ok(None);
        }
        match source.file(path).await {
            Ok(Some(content)) => Ok(Some(content)),
            Ok(None) => {
                self.absent.insert(path.to_string());
                Ok(None)
            }
            Err(e) if e.is_budget() => {
                self.stopped = true;
                self.pending += 1;
                Ok(None)
            }
            Err(SourceError::TooLarge(_)) => self.oversized(path),
            Err(e) => Err(e),
        }
    }

    /// A file over the single-file cap is skipped, as in an archive; but the manifest cannot be.
    pub(super) fn oversized(&mut self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        if path == MARKETPLACE_FILE {
            return Err(SourceError::TooLarge(format!(
                "`{MARKETPLACE_FILE}` is over the {}-byte file cap",
                self.size.limits().max_file_bytes
            )));
        }
        Ok(None)
    }

    /// A file fetched ahead (`None`: not asked for, as a partial copy of the same revision found it absent).
    pub(super) fn take(
        &mut self,
        path: &str,
        fetched: Option<Result<Option<Vec<u8>>, SourceError>>,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        match fetched {
            None => {
                self.absent.insert(path.to_string());
                Ok(None)
            }
            Some(Ok(Some(content))) => Ok(Some(content)),
            Some(Ok(None)) => {
                self.absent.insert(path.to_string());
                Ok(None)
            }
            Some(Err(e)) if e.is_budget() => {
                self.stopped = true;
                self.pending += 1;
                Ok(None)
            }
            Some(Err(SourceError::TooLarge(_))) => self.oversized(path),
            Some(Err(e)) => Err(e),
        }
    }

    pub(super) fn keep(&mut self, path: &str, content: Vec<u8>) -> Result<(), SourceError> {
        if self.size.admit(content.len() as u64)? {
            self.files.insert(path, content)?;
        }
        Ok(())
    }

    pub(super) fn finish(mut self, revision: Revision) -> Result<Fetched, SourceError> {
        let revision = revision.to_string();
        if self.pending == 0 {
            return Ok(Fetched::Tree { revision, files: self.files });
        }
        let note = PartialNote { absent: self.absent.into_iter().collect() };
        self.files.insert(PARTIAL_FILE, serde_json::to_vec(&note).unwrap_or_default())?;
        Ok(Fetched::Partial { revision, files: self.files, pending: self.pending })
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct PartialNote {
    pub(super) absent: Vec<String>,
}
