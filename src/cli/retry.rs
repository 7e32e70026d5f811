//! `--retries` and `--retry-delay-ms` for `logbackup::workflows::retry`, with each retry said on
//! stderr.

use std::future::Future;

use logbackup::es::Failed;
use logbackup::workflows::retry::{self, retry_note};

use super::connect::EsArgs;

pub async fn concurrent<T, F, Fut>(args: &EsArgs, transport_too: bool, op: F) -> Result<T, Failed>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failed>>,
{
    retry::concurrent(args.retry(), transport_too, op, |e, after| {
        eprintln!("{}", retry_note(e, after))
    })
    .await
}
