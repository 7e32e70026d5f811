//! A GET whose JSON body is decoded as it arrives, for answers too large to hold whole (a listing
//! of 100,000 snapshots is 47 MB): the body's chunks go through a bounded channel to a blocking
//! task that runs serde over them, so the client holds a few chunks and what the decoded type
//! keeps, never the whole text.

use std::io::{BufReader, Read};

use reqwest::Method;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::client::{failed, transport_message, EsClient};
use super::error::{EsError, Failed};

/// Chunks in flight between the network and the decoder.
const CHUNKS_IN_FLIGHT: usize = 8;

/// `Read` over the chunks the network task sends; end of input when the sender is gone.
struct Chunks {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.blocking_recv() {
                Some(next) => {
                    self.chunk = next;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl EsClient {
    /// `GET path?query`, decoded while it streams in; errors name `action`.
    pub(super) async fn get_streamed<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        query: &[(&str, String)],
        action: &str,
    ) -> Result<T, Failed> {
        let mut response = self
            .respond(Method::GET, path, query, None::<&()>)
            .await
            .map_err(|e| failed(action, e))?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response
                .bytes()
                .await
                .map_err(|e| failed(action, EsError::Transport(transport_message(&e))))?;
            return Err(failed(
                action,
                EsError::from_response(status.as_u16(), &bytes),
            ));
        }
        let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let decoder = tokio::task::spawn_blocking(move || {
            let reader = BufReader::with_capacity(
                64 * 1024,
                Chunks {
                    rx,
                    chunk: Vec::new(),
                    at: 0,
                },
            );
            serde_json::from_reader::<_, T>(reader)
        });
        let mut transport = None;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    // The decoder stopped early (it found an error): its result says why.
                    if tx.send(chunk.to_vec()).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    transport = Some(transport_message(&e));
                    break;
                }
            }
        }
        drop(tx);
        let decoded = decoder
            .await
            .map_err(|e| failed(action, EsError::Decode(format!("the decoder stopped: {e}"))))?;
        if let Some(t) = transport {
            return Err(failed(action, EsError::Transport(t)));
        }
        tracing::debug!(status = status.as_u16(), "streamed response");
        decoded.map_err(|e| failed(action, EsError::Decode(e.to_string())))
    }
}
