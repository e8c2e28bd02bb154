//! examples/ws_echo_server.rs written with tokio-tungstenite, for scripts/program-sizes.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    while let Ok((tcp, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut ws = tokio_tungstenite::accept_async(tcp).await?;
            while let Some(message) = ws.next().await {
                let message = message?;
                if message.is_text() || message.is_binary() {
                    ws.send(message).await?;
                }
            }
            Ok::<(), tokio_tungstenite::tungstenite::Error>(())
        });
    }
    Ok(())
}
