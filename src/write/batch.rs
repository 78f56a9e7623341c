//! Bulk writes: the lines of an NDJSON request, each validated and upgraded
//! like a single write, committed in chunks, all or nothing per chunk.

use serde_json::Value;

use super::{Error, Outcome};
use crate::gateway::{Gateway, Target};
use crate::systems::Precondition;

/// What became of one line of a bulk request: its number and outcome.
pub type LineOutcome = (usize, Result<Outcome, Error>);

impl Gateway {
    /// Writes a chunk of lines (number, body) as creates or replaces — the
    /// key comes from each body, as for PUT without `If-Match`. Each line is
    /// checked on its own; the valid ones are committed together, where a
    /// line the owner refuses fails alone. If the owner fails, no line of
    /// the chunk is written and each says so. Outcomes come in line order.
    #[tracing::instrument(skip_all, fields(contract = %target.contract.name, version = %target.version, lines = lines.len()))]
    pub async fn write_lines(
        &self,
        target: &Target,
        lines: Vec<(usize, Value)>,
    ) -> Vec<LineOutcome> {
        let mut outcomes = Vec::with_capacity(lines.len());
        let mut writes = Vec::with_capacity(lines.len());
        let mut written = Vec::with_capacity(lines.len());
        for (line, body) in lines {
            let prepared = self
                .prepare_put(target, None, body, Precondition::None, false, None)
                .await;
            match prepared {
                Ok((write, sent)) => {
                    written.push((line, write.key.clone(), sent));
                    writes.push(write);
                }
                Err(error) => outcomes.push((line, Err(error))),
            }
        }
        match self.commit_together(target, writes).await {
            Ok(committed) => {
                for ((line, key, sent), result) in written.into_iter().zip(committed) {
                    let outcome = result.map_err(Error::from).map(|committed| Outcome {
                        key,
                        revision: committed.revision,
                        event_type: committed.event_type,
                        body: Some(sent),
                        replayed: false,
                    });
                    outcomes.push((line, outcome));
                }
            }
            Err(error) => {
                for (line, ..) in written {
                    outcomes.push((line, Err(Error::Owner(error.clone()))));
                }
            }
        }
        outcomes.sort_by_key(|(line, _)| *line);
        outcomes
    }
}
