//! Per-request balancing of the calls to media-svc across all its replicas.
//!
//! gRPC keeps one HTTP/2 connection per channel, so behind a plain
//! Kubernetes Service every call of one contacts-svc would reach the one
//! media-svc pod its connection landed on. Instead, as gRPC's own `dns`
//! resolver with `round_robin` does, the endpoint's host name (a headless
//! Service, whose DNS name answers every ready pod's address) is resolved
//! every MEDIA_RESOLVE_INTERVAL, and each call goes to one of the addresses
//! (tower's power-of-two-choices over pending requests, through tonic's
//! `Channel::balance_channel`). A resolution that fails or answers nothing
//! keeps the last good addresses; an address no longer answered is dropped
//! (its calls in flight finish). MEDIA_ENDPOINT may also list several
//! endpoints, comma-separated: their addresses are pooled.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use tokio::sync::{mpsc::Sender, watch};
use tonic::{
    codegen::http::Uri,
    transport::{Endpoint, channel::Change},
};

/// One configured media-svc endpoint: `scheme://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// As configured: the `:authority` of every call, whatever address it goes to.
    pub(crate) uri: Uri,
    /// Without brackets for IPv6: what is resolved, and the TLS server name.
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// Parses MEDIA_ENDPOINT: one `http(s)://host[:port]` or a comma-separated list.
pub(crate) fn parse_targets(list: &str) -> anyhow::Result<Vec<Target>> {
    let mut targets = Vec::new();
    for item in list.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let uri: Uri = item.parse().map_err(|e| anyhow::anyhow!("MEDIA_ENDPOINT {item:?}: {e}"))?;
        let scheme =
            uri.scheme_str().ok_or_else(|| anyhow::anyhow!("MEDIA_ENDPOINT {item:?}: no http:// or https://"))?;
        let default_port = match scheme {
            "http" => 80,
            "https" => 443,
            other => anyhow::bail!("MEDIA_ENDPOINT {item:?}: scheme {other} is neither http nor https"),
        };
        let host = uri.host().ok_or_else(|| anyhow::anyhow!("MEDIA_ENDPOINT {item:?}: no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(default_port);
        targets.push(Target { uri, host, port });
    }
    anyhow::ensure!(!targets.is_empty(), "MEDIA_ENDPOINT names no endpoint");
    Ok(targets)
}

/// The answer of one resolution of one target.
pub(crate) type Resolved = std::io::Result<Vec<SocketAddr>>;

/// Resolves `host` and `port` to socket addresses (tokio's `lookup_host`
/// in production; tests inject their own).
pub(crate) type Resolve = Arc<dyn Fn(String, u16) -> Pin<Box<dyn Future<Output = Resolved> + Send>> + Send + Sync>;

/// The system resolver (getaddrinfo, as the rest of the process uses).
pub(crate) fn system_resolve() -> Resolve {
    Arc::new(|host, port| Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), port)).await?.collect()) }))
}

/// The addresses calls are balanced over, and how each round changes them.
#[derive(Debug)]
pub(crate) struct AddressSet {
    max: usize,
    /// Each target's last good answer (empty until it has one).
    last_good: Vec<Vec<SocketAddr>>,
    /// The addresses in use, with the target each belongs to.
    current: BTreeMap<SocketAddr, usize>,
}

impl AddressSet {
    pub(crate) fn new(targets: usize, max: usize) -> Self {
        Self { max: max.max(1), last_good: vec![Vec::new(); targets], current: BTreeMap::new() }
    }

    /// Takes one round's answers (one per target, in order) and says what
    /// changes: addresses to add (with their target's index) and to drop.
    /// A failed or empty answer keeps that target's last good addresses.
    /// At most `max` addresses are kept: those in use first (no churn), then
    /// new ones in the order answered (DNS servers rotate their answers, so
    /// replicas of contacts-svc pick different ones past the bound).
    pub(crate) fn update(&mut self, answers: Vec<Resolved>) -> Vec<Change<SocketAddr, usize>> {
        for (index, answer) in answers.into_iter().enumerate().take(self.last_good.len()) {
            match answer {
                Ok(addresses) if !addresses.is_empty() => self.last_good[index] = addresses,
                Ok(_) => {
                    tracing::warn!(target_index = index, "media endpoint resolved to no address; keeping the last")
                }
                Err(error) => {
                    tracing::warn!(target_index = index, %error, "media endpoint resolution failed; keeping the last addresses")
                }
            }
        }
        let mut wanted: Vec<(SocketAddr, usize)> = Vec::new();
        let mut seen = BTreeSet::new();
        for (index, addresses) in self.last_good.iter().enumerate() {
            for &address in addresses {
                if seen.insert(address) {
                    wanted.push((address, index));
                }
            }
        }
        // Addresses in use keep their place within the bound.
        wanted.sort_by_key(|(address, _)| !self.current.contains_key(address));
        wanted.truncate(self.max);
        let wanted: BTreeMap<SocketAddr, usize> = wanted.into_iter().collect();

        let mut changes = Vec::new();
        for address in self.current.keys() {
            if !wanted.contains_key(address) {
                changes.push(Change::Remove(*address));
            }
        }
        for (address, index) in &wanted {
            if !self.current.contains_key(address) {
                changes.push(Change::Insert(*address, *index));
            }
        }
        self.current = wanted;
        changes
    }

    pub(crate) fn len(&self) -> usize {
        self.current.len()
    }
}

/// Resolves `targets` now and then every `interval`, feeding the balanced
/// channel through `changes` and publishing the number of addresses in use
/// on `addresses` (`None` until the first round ends). Ends when the channel
/// is gone.
pub(crate) async fn run(
    targets: Vec<Target>,
    endpoint: impl Fn(&Target, SocketAddr) -> Endpoint,
    resolve: Resolve,
    interval: Duration,
    max: usize,
    changes: Sender<Change<SocketAddr, Endpoint>>,
    addresses: watch::Sender<Option<usize>>,
) {
    let mut set = AddressSet::new(targets.len(), max);
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A lookup that hangs counts as failed; the next round tries again.
    let lookup_timeout = interval.clamp(Duration::from_secs(1), Duration::from_secs(10));
    loop {
        ticks.tick().await;
        if changes.is_closed() {
            return;
        }
        let lookups = targets.iter().map(|target| {
            let lookup = resolve(target.host.clone(), target.port);
            async move {
                tokio::time::timeout(lookup_timeout, lookup)
                    .await
                    .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "resolution timed out")))
            }
        });
        let answers = futures::future::join_all(lookups).await;
        for change in set.update(answers) {
            let change = match change {
                Change::Insert(address, index) => {
                    tracing::info!(%address, endpoint = %targets[index].uri, "media-svc address added");
                    Change::Insert(address, endpoint(&targets[index], address))
                }
                Change::Remove(address) => {
                    tracing::info!(%address, "media-svc address removed");
                    Change::Remove(address)
                }
            };
            if changes.send(change).await.is_err() {
                return;
            }
        }
        metrics::gauge!("media_endpoint_addresses").set(set.len() as f64);
        addresses.send_replace(Some(set.len()));
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, sync::Mutex, time::Duration};

    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn failed() -> Resolved {
        Err(std::io::Error::other("SERVFAIL"))
    }

    fn summary(changes: &[Change<SocketAddr, usize>]) -> Vec<String> {
        changes
            .iter()
            .map(|change| match change {
                Change::Insert(address, index) => format!("+{address}@{index}"),
                Change::Remove(address) => format!("-{address}"),
            })
            .collect()
    }

    #[test]
    fn targets_are_parsed_from_one_endpoint_or_a_list() {
        let targets = parse_targets("http://media-svc-headless:50052").unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!((targets[0].host.as_str(), targets[0].port), ("media-svc-headless", 50052));
        let targets = parse_targets("http://127.0.0.1:1, https://[::1]:2 ,https://media").unwrap();
        let parsed: Vec<_> = targets.iter().map(|t| (t.host.as_str(), t.port)).collect();
        assert_eq!(parsed, [("127.0.0.1", 1), ("::1", 2), ("media", 443)]);
        assert_eq!(targets[1].uri.to_string(), "https://[::1]:2/");
        assert!(parse_targets("").is_err());
        assert!(parse_targets("media:50052").is_err());
        assert!(parse_targets("ftp://media:1").is_err());
    }

    #[test]
    fn additions_and_removals_follow_the_answers() {
        let mut set = AddressSet::new(1, 64);
        let changes = set.update(vec![Ok(vec![addr("10.0.0.1:1"), addr("10.0.0.2:1")])]);
        assert_eq!(summary(&changes), ["+10.0.0.1:1@0", "+10.0.0.2:1@0"]);
        // The same answer, in another order: nothing changes.
        assert!(set.update(vec![Ok(vec![addr("10.0.0.2:1"), addr("10.0.0.1:1")])]).is_empty());
        // A replica gone, another new.
        let changes = set.update(vec![Ok(vec![addr("10.0.0.2:1"), addr("10.0.0.3:1")])]);
        assert_eq!(summary(&changes), ["-10.0.0.1:1", "+10.0.0.3:1@0"]);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn a_failed_or_empty_resolution_keeps_the_last_good_addresses() {
        let mut set = AddressSet::new(2, 64);
        set.update(vec![Ok(vec![addr("10.0.0.1:1")]), Ok(vec![addr("10.0.1.1:2")])]);
        assert!(set.update(vec![failed(), Ok(vec![])]).is_empty());
        assert_eq!(set.len(), 2);
        // One target recovers with a new answer; the other still fails.
        let changes = set.update(vec![Ok(vec![addr("10.0.0.9:1")]), failed()]);
        assert_eq!(summary(&changes), ["-10.0.0.1:1", "+10.0.0.9:1@0"]);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn nothing_is_added_before_a_first_good_answer() {
        let mut set = AddressSet::new(1, 64);
        assert!(set.update(vec![failed()]).is_empty());
        assert_eq!(set.len(), 0);
    }

    #[test]
    fn the_set_is_bounded_and_addresses_in_use_keep_their_place() {
        let mut set = AddressSet::new(1, 2);
        let changes = set.update(vec![Ok(vec![addr("10.0.0.3:1"), addr("10.0.0.1:1"), addr("10.0.0.2:1")])]);
        assert_eq!(summary(&changes), ["+10.0.0.1:1@0", "+10.0.0.3:1@0"]);
        // A rotated answer does not churn the chosen ones.
        assert!(set.update(vec![Ok(vec![addr("10.0.0.2:1"), addr("10.0.0.1:1"), addr("10.0.0.3:1")])]).is_empty());
        // One chosen address gone: the spare one takes its place.
        let changes = set.update(vec![Ok(vec![addr("10.0.0.2:1"), addr("10.0.0.1:1")])]);
        assert_eq!(summary(&changes), ["-10.0.0.3:1", "+10.0.0.2:1@0"]);
    }

    #[test]
    fn an_address_answered_for_two_targets_is_used_once() {
        let mut set = AddressSet::new(2, 64);
        let changes = set.update(vec![Ok(vec![addr("10.0.0.1:1")]), Ok(vec![addr("10.0.0.1:1"), addr("10.0.0.2:1")])]);
        assert_eq!(summary(&changes), ["+10.0.0.1:1@0", "+10.0.0.2:1@1"]);
    }

    /// The loop with an injected resolver: the first round at once, then one
    /// per interval; a failure keeps the addresses; it ends with the channel.
    #[tokio::test]
    async fn the_loop_resolves_periodically_and_feeds_the_channel() {
        let answers: Arc<Mutex<HashMap<String, Resolved>>> = Arc::default();
        answers.lock().unwrap().insert("media".into(), Ok(vec![addr("10.0.0.1:7"), addr("10.0.0.2:7")]));
        let calls = Arc::new(Mutex::new(0_usize));
        let resolve: Resolve = {
            let (answers, calls) = (answers.clone(), calls.clone());
            Arc::new(move |host, _port| {
                *calls.lock().unwrap() += 1;
                let answer = match answers.lock().unwrap().get(&host) {
                    Some(Ok(addresses)) => Ok(addresses.clone()),
                    _ => failed(),
                };
                Box::pin(async move { answer })
            })
        };
        let targets = parse_targets("http://media:7").unwrap();
        let (changes, mut received) = tokio::sync::mpsc::channel(16);
        let (count, mut counted) = watch::channel(None);
        let endpoint = |target: &Target, address: SocketAddr| {
            Endpoint::from_shared(format!("http://{address}")).unwrap().origin(target.uri.clone())
        };
        let interval = Duration::from_millis(50);
        let task = tokio::spawn(run(targets, endpoint, resolve, interval, 64, changes, count));

        let mut keys = Vec::new();
        for _ in 0..2 {
            match received.recv().await.unwrap() {
                Change::Insert(address, endpoint) => {
                    assert_eq!(endpoint.uri().to_string(), format!("http://{address}/"));
                    keys.push(address);
                }
                Change::Remove(_) => panic!("nothing to remove yet"),
            }
        }
        assert_eq!(keys, [addr("10.0.0.1:7"), addr("10.0.0.2:7")]);
        counted.wait_for(|n| *n == Some(2)).await.unwrap();

        // A failed round: nothing sent, still two addresses.
        answers.lock().unwrap().insert("media".into(), failed());
        let before = *calls.lock().unwrap();
        tokio::time::sleep(interval * 4).await;
        assert!(*calls.lock().unwrap() > before);
        assert!(received.try_recv().is_err());

        // A replica gone.
        answers.lock().unwrap().insert("media".into(), Ok(vec![addr("10.0.0.2:7")]));
        let removed = tokio::time::timeout(Duration::from_secs(10), received.recv()).await.unwrap();
        match removed.unwrap() {
            Change::Remove(address) => assert_eq!(address, addr("10.0.0.1:7")),
            Change::Insert(..) => panic!("expected a removal"),
        }
        counted.wait_for(|n| *n == Some(1)).await.unwrap();

        drop(received);
        tokio::time::timeout(Duration::from_secs(60), task).await.expect("the loop ends with its channel").unwrap();
    }
}
