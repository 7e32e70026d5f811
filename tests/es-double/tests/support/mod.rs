//! Shared by the double's own tests: start it, call it, validate against the response schemas.

#![allow(dead_code)]

use es_double::{Config, Flavour, Running, State};
use serde_json::Value;

pub struct Double {
    pub running: Running,
    pub runtime: tokio::runtime::Runtime,
    pub http: reqwest::Client,
}

pub fn start(flavour: Flavour, version: &str, story_extras: bool, state: State) -> Double {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut config = Config::new(flavour, version);
    config.story_extras = story_extras;
    let running = runtime
        .block_on(es_double::start(config, state, "127.0.0.1:0"))
        .unwrap();
    Double {
        running,
        runtime,
        http: reqwest::Client::new(),
    }
}

impl Double {
    /// `METHOD path?query` with an optional JSON body: (status, body as JSON, or as a string if not JSON).
    pub fn call(&self, method: &str, path_and_query: &str, body: Option<&Value>) -> (u16, Value) {
        let url = format!("{}{path_and_query}", self.running.url());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.runtime.block_on(async {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        })
    }
}
