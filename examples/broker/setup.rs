//! From a Mosquitto-style configuration ([`config::Config`]) to what the broker runs with: its
//! [`Options`], its listeners (TLS configured with rustls), the password and ACL files read,
//! and where it keeps its state.

use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mqtt_ws::tls::rustls::{self, RootCertStore, ServerConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use super::config::{self, Protocol};
use super::{Listen, Options, Security, acl, passwd};

/// What a configuration file asks for.
pub struct Configured {
    /// The broker's options.
    pub options: Options,
    /// Its listeners, in the file's order.
    pub listeners: Vec<Listen>,
    /// `persistence true`: the directory the state is kept in (`persistence_location`, or
    /// the working directory).
    pub persistence: Option<PathBuf>,
}

/// The broker's options and listeners for configuration `c`; an error names the file (and the
/// line, for the password and ACL files) that is wrong.
pub fn configured(c: &config::Config) -> Result<Configured, String> {
    let persistence =
        c.persistence.then(|| c.persistence_location.clone().unwrap_or_else(|| PathBuf::from(".")));
    let passwords = c
        .password_file
        .as_deref()
        .map(passwd::PasswordFile::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    let acl = c.acl_file.as_deref().map(acl::Acl::load).transpose().map_err(|e| e.to_string())?;
    let security = Security { allow_anonymous: c.allow_anonymous, passwords, acl };
    let options = Options {
        security: Some(Arc::new(security)),
        max_keepalive: c.max_keepalive.and_then(NonZeroU16::new),
        max_packet_size: c.max_packet_size,
        // `0` in the file: no limit.
        max_queued_messages: Some(c.max_queued_messages.unwrap_or(usize::MAX)),
        max_queued_bytes: c.max_queued_bytes,
        max_inflight_messages: c.max_inflight_messages.and_then(NonZeroU16::new),
        message_size_limit: c.message_size_limit,
        connect_timeout: Some(c.connect_timeout),
        ..Options::default()
    };
    let listeners = c
        .listeners
        .iter()
        .map(|l| {
            let tls = l.tls.as_ref().map(server_config).transpose()?;
            Ok(Listen {
                addr: l.bind_address(),
                websocket: l.protocol == Protocol::WebSockets,
                max_connections: l.max_connections,
                tls,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(Configured { options, listeners, persistence })
}

/// The rustls server configuration of a TLS listener: its certificate chain and key, and, with
/// `require_certificate`, client certificates checked against `cafile`.
pub fn server_config(tls: &config::Tls) -> Result<Arc<ServerConfig>, String> {
    let chain = certificates(&tls.certfile)?;
    let key = PrivateKeyDer::from_pem_file(&tls.keyfile)
        .map_err(|e| format!("{}: {e}", tls.keyfile.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match (&tls.cafile, tls.require_certificate) {
        (Some(ca), true) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca)? {
                roots.add(cert).map_err(|e| format!("{}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("{}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("{}: {e}", tls.certfile.display()))?;
    Ok(Arc::new(config))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", path.display()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(text: &str) -> Options {
        let c = config::Config::parse(text, Path::new("/etc/broker")).unwrap();
        configured(&c).unwrap().options
    }

    #[test]
    fn max_queued_messages_0_is_no_limit() {
        assert_eq!(options("max_queued_messages 0\n").max_queued_messages, Some(usize::MAX));
        assert_eq!(options("max_queued_messages 5\n").max_queued_messages, Some(5));
        assert_eq!(options("").max_queued_messages, Some(config::DEFAULT_MAX_QUEUED));
    }
}
