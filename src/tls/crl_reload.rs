//! When the CRLs are read again: on a change to any CRL file (polled) and on SIGHUP. What a
//! reload does is the verifier's (`ClientVerifier::reload`); reading CRL files is
//! `revocation`'s.

use std::sync::Arc;
use std::time::Duration;

use super::client_verifier::ClientVerifier;

async fn reload(verifier: &Arc<ClientVerifier>, trigger: &str) {
    let v = verifier.clone();
    // CRLs can be megabytes: parse them off the async threads.
    let result = tokio::task::spawn_blocking(move || v.reload()).await;
    match result {
        Ok(Ok(n)) => log::info!(
            "TLS: client CRLs reloaded ({trigger}): {n} CRL(s) from {} file(s)",
            verifier.crl_files().len()
        ),
        Ok(Err(e)) => log::error!(
            "TLS: client CRLs NOT reloaded ({trigger}); the previous ones stay in force: {:#}",
            anyhow::Error::new(e)
        ),
        Err(e) => log::error!("TLS: client CRL reload failed ({trigger}): {e}"),
    }
}

/// Reloads the CRLs whenever a file changes (checked every `poll`; None: never) and on SIGHUP.
/// Returns the tasks, to be aborted when the server stops.
pub fn watch(
    verifier: Arc<ClientVerifier>,
    poll: Option<Duration>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(every) = poll.filter(|_| !verifier.crl_files().is_empty()) {
        let verifier = verifier.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if verifier.crls_changed() {
                    reload(&verifier, "a CRL file changed").await;
                }
            }
        }));
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        // Installed even without CRLs: SIGHUP's default action would kill the server.
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => tasks.push(tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    reload(&verifier, "SIGHUP").await;
                }
            })),
            Err(e) => log::warn!("TLS: cannot listen for SIGHUP (CRL reload): {e}"),
        }
    }
    tasks
}
