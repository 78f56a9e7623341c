//! Bulk writes: the lines of an NDJSON request, each validated and upgraded
//! like a single write, committed in chunks, all or nothing per chunk. A
//! chunk is prepared (checked) apart from its commit, so a caller can check
//! the next chunk while the previous one commits.

use serde_json::Value;

use super::{Error, Outcome};
use crate::contract::RecordKey;
use crate::gateway::{Gateway, Target};
use crate::systems::{Precondition, Write};

/// What became of one line of a bulk request: its number and outcome.
pub type LineOutcome = (usize, Result<Outcome, Error>);

/// A chunk of lines checked and ready to commit.
pub struct PreparedLines {
    /// The lines refused already.
    refused: Vec<LineOutcome>,
    writes: Vec<Write>,
    /// Per write: its line and key.
    written: Vec<(usize, RecordKey)>,
}

impl PreparedLines {
    /// The keys the chunk writes.
    pub fn keys(&self) -> impl Iterator<Item = &RecordKey> {
        self.written.iter().map(|(_, key)| key)
    }
}

impl Gateway {
    /// Checks a chunk of lines (number, body) as creates or replaces — the
    /// key comes from each body, as for PUT without `If-Match`. Each line
    /// is checked on its own.
    #[tracing::instrument(level = "debug", skip_all, fields(contract = %target.contract.name, version = %target.version, lines = lines.len()))]
    pub async fn prepare_lines(
        &self,
        target: &Target,
        lines: Vec<(usize, Value)>,
    ) -> PreparedLines {
        let mut prepared = PreparedLines {
            refused: Vec::new(),
            writes: Vec::with_capacity(lines.len()),
            written: Vec::with_capacity(lines.len()),
        };
        for (line, body) in lines {
            let checked = self
                .prepare_put(target, None, body, Precondition::None, false, |_| ())
                .await;
            match checked {
                Ok((write, ())) => {
                    prepared.written.push((line, write.key.clone()));
                    prepared.writes.push(write);
                }
                Err(error) => prepared.refused.push((line, Err(error))),
            }
        }
        prepared
    }

    /// Commits a checked chunk together, where a line the owner refuses
    /// fails alone. If the owner fails, no line of the chunk is written and
    /// each says so. Outcomes come in line order.
    #[tracing::instrument(level = "debug", skip_all, fields(contract = %target.contract.name, version = %target.version, lines = prepared.writes.len()))]
    pub async fn commit_lines(&self, target: &Target, prepared: PreparedLines) -> Vec<LineOutcome> {
        let PreparedLines {
            refused: mut outcomes,
            writes,
            written,
        } = prepared;
        match self.commit_together(target, writes).await {
            Ok(committed) => {
                for ((line, key), result) in written.into_iter().zip(committed) {
                    let outcome = result
                        .map_err(Error::from)
                        .map(|committed| Outcome::committed(key, &committed, None));
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
