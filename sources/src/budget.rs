//! Counting files and bytes against [`Limits`] when a source receives a tree file by file (GitHub's and GitLab's
//! tree-API fallbacks, the listed HTTPS forms), as [`crate::archive::extract`] does for a whole archive.

use crate::archive::Limits;
use crate::SourceError;

/// Counts files and bytes against [`Limits`] when files arrive one by one.
pub(crate) struct Budget {
    limits: Limits,
    files: usize,
    bytes: u64,
}

impl Budget {
    pub(crate) fn new(limits: Limits) -> Self {
        Self { limits, files: 0, bytes: 0 }
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    /// `Ok(false)`: the file is over the single-file cap, skip it.
    pub(crate) fn admit(&mut self, size: u64) -> Result<bool, SourceError> {
        if size > self.limits.max_file_bytes {
            return Ok(false);
        }
        self.files += 1;
        self.bytes += size;
        if self.files > self.limits.max_files {
            return Err(SourceError::TooLarge(format!("more than {} files", self.limits.max_files)));
        }
        if self.bytes > self.limits.max_total_bytes {
            return Err(SourceError::TooLarge(format!("more than {} bytes", self.limits.max_total_bytes)));
        }
        Ok(true)
    }
}
