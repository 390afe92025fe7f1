//! `AlwaysUpProbe`: the probe of an in-process dependency, which is up while the process is.

use async_trait::async_trait;
use twofa_domain::{DependencyProbe, ProbeError};

/// A dependency held in this process's memory (the `memory://` database, in-process stores):
/// reachable for as long as the process runs.
#[derive(Debug, Clone, Copy)]
pub struct AlwaysUpProbe {
    name: &'static str,
}

impl AlwaysUpProbe {
    /// A probe reported under `name`.
    pub fn new(name: &'static str) -> Self {
        Self { name }
    }
}

#[async_trait]
impl DependencyProbe for AlwaysUpProbe {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn check(&self) -> Result<(), ProbeError> {
        Ok(())
    }
}
