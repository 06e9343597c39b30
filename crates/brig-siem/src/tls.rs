//! TLS client configuration for syslog over TLS: the server's certificate is checked against
//! the system's roots, or only against `--ca FILE` when given.

use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::SiemError;

pub fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, SiemError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| SiemError::Tls(format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(SiemError::Tls(format!(
                    "{}: no PEM certificate in it",
                    path.display()
                )));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| SiemError::Tls(format!("{}: {e}", path.display())))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                // A system bundle may hold certificates rustls cannot use; skip those.
                let _ = roots.add(c);
            }
            if roots.is_empty() {
                return Err(SiemError::Tls(
                    "no system root certificates found; pass --ca FILE".into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SiemError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

pub fn connect(
    config: Arc<ClientConfig>,
    host: &str,
    sock: TcpStream,
) -> Result<StreamOwned<ClientConnection, TcpStream>, String> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let conn = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    Ok(StreamOwned::new(conn, sock))
}
