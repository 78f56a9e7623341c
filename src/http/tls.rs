//! HTTPS with rustls: a [`TlsListener`] that axum serves like a TCP
//! listener, so plain and TLS serving share one serve loop and one
//! graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::Listener;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;

/// How long a client may take over its handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken connections waiting for the serve loop to take them.
const READY_CONNECTIONS: usize = 64;

/// Reads the certificate chain and key `tls:` names.
pub fn acceptor(config: &TlsConfig) -> anyhow::Result<TlsAcceptor> {
    let certificates = CertificateDer::pem_file_iter(&config.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| {
            format!(
                "tls.cert: cannot read a PEM certificate chain from {}",
                config.cert.display()
            )
        })?;
    if certificates.is_empty() {
        anyhow::bail!("tls.cert: {} holds no certificate", config.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&config.key).with_context(|| {
        format!(
            "tls.key: cannot read a PEM private key from {}",
            config.key.display()
        )
    })?;
    let mut server = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("tls: no protocol version available")?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .with_context(|| {
            format!(
                "tls: the key in {} does not fit the certificate in {}",
                config.key.display(),
                config.cert.display()
            )
        })?;
    // The server speaks HTTP/1.1 only (axum's `http2` feature is off).
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// A TCP listener whose connections arrive handshaken. Handshakes run in
/// tasks of their own, each bounded by [`HANDSHAKE_TIMEOUT`], so one slow
/// client never holds up the next.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    address: SocketAddr,
    accepting: JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener`.
    pub fn new(mut listener: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<TlsListener> {
        let address = listener.local_addr()?;
        let (sender, ready) = mpsc::channel(READY_CONNECTIONS);
        let accepting = tokio::spawn(async move {
            loop {
                // axum's accept retries on its own after an error.
                let (stream, peer) = Listener::accept(&mut listener).await;
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            // The serve loop is gone when this fails: drop the connection.
                            let _ = sender.send((stream, peer)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            address,
            accepting,
        })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.address)
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}
