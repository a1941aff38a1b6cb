//! A cap on each tenant's calls in progress, so that one tenant's burst
//! cannot take every database connection and media-svc slot from the others.
//! The map holds one entry per tenant with calls in progress (an entry
//! leaves with its tenant's last call), so it is never larger than the
//! number of calls being served.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use crate::error::Error;

#[derive(Debug, Clone)]
pub struct TenantGate {
    limit: usize,
    in_progress: Arc<Mutex<HashMap<String, usize>>>,
}

/// One call in progress; counted until dropped.
#[derive(Debug)]
pub struct Admitted {
    tenant: String,
    in_progress: Arc<Mutex<HashMap<String, usize>>>,
}

impl TenantGate {
    pub fn new(limit: usize) -> Self {
        Self { limit: limit.max(1), in_progress: Arc::default() }
    }

    /// Counts a call of `tenant`, or refuses it when the tenant already has
    /// `limit` calls in progress.
    pub fn admit(&self, tenant: &str) -> Result<Admitted, Error> {
        let mut in_progress = self.in_progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = in_progress.entry(tenant.to_owned()).or_insert(0);
        if *count >= self.limit {
            metrics::counter!("contacts_tenant_calls_refused_total").increment(1);
            return Err(Error::TenantBusy { limit: self.limit });
        }
        *count += 1;
        Ok(Admitted { tenant: tenant.to_owned(), in_progress: self.in_progress.clone() })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut in_progress = self.in_progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = in_progress.get_mut(&self.tenant) {
            *count -= 1;
            if *count == 0 {
                in_progress.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_at_its_limit_is_refused_while_others_pass_and_entries_leave() {
        let gate = TenantGate::new(2);
        let first = gate.admit("busy").unwrap();
        let _second = gate.admit("busy").unwrap();
        assert!(matches!(gate.admit("busy"), Err(Error::TenantBusy { limit: 2 })));
        let quiet = gate.admit("quiet").expect("another tenant is not held back");
        drop(first);
        let _third = gate.admit("busy").expect("a finished call frees its place");
        drop(quiet);
        assert!(!gate.in_progress.lock().unwrap().contains_key("quiet"), "no entry outlives its calls");
    }
}
