//! The two Lua scripts and how they are run: `EVALSHA`, then `EVAL` on `NOSCRIPT`.

use redis::aio::ConnectionManager;
use redis::{ErrorKind, FromRedisValue, RedisResult, ServerErrorKind, ToRedisArgs};

/// The GCRA script (see `docs/scale-out.md` for a line-by-line reading).
pub(crate) const GCRA: &str = include_str!("gcra.lua");
/// The shared-cooldown script.
pub(crate) const COOLDOWN: &str = include_str!("cooldown.lua");

/// A script's text and SHA1, the name Redis caches it under.
#[derive(Clone, Debug)]
pub(crate) struct Script {
    code: &'static str,
    sha: String,
}

impl Script {
    pub(crate) fn new(code: &'static str) -> Self {
        Self { code, sha: redis::Script::new(code).get_hash().to_owned() }
    }

    /// The SHA1 Redis knows the script by.
    #[cfg(test)]
    pub(crate) fn sha(&self) -> &str {
        &self.sha
    }

    /// Runs the script by its SHA1 (`EVALSHA`: a few bytes on the wire); a server that does
    /// not have it cached (just started, or `SCRIPT FLUSH`ed) answers `NOSCRIPT`, and the
    /// script is sent whole with `EVAL`, which also caches it for the next `EVALSHA`.
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        conn: &mut ConnectionManager,
        keys: &[&str],
        args: impl ToRedisArgs + Copy,
    ) -> RedisResult<T> {
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha.arg(&self.sha).arg(keys.len()).arg(keys).arg(args);
        match evalsha.query_async(conn).await {
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                let mut eval = redis::cmd("EVAL");
                eval.arg(self.code).arg(keys.len()).arg(keys).arg(args);
                eval.query_async(conn).await
            }
            answer => answer,
        }
    }

    /// Caches the script on the server (`SCRIPT LOAD`), so the first `EVALSHA` hits.
    pub(crate) async fn load(&self, conn: &mut ConnectionManager) -> RedisResult<()> {
        redis::cmd("SCRIPT").arg("LOAD").arg(self.code).query_async::<String>(conn).await?;
        Ok(())
    }
}

/// What the GCRA script answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The tokens were taken.
    Allowed,
    /// No token: ask again after this many microseconds.
    Denied { wait_us: u64 },
    /// The key cools down for this many more microseconds.
    CoolingDown { wait_us: u64 },
}

impl Verdict {
    /// Reads the script's `{code, wait}` reply; `None` for anything else.
    pub(crate) fn from_reply((code, wait): (i64, i64)) -> Option<Self> {
        let wait_us = u64::try_from(wait).ok()?;
        match code {
            1 => Some(Self::Allowed),
            0 => Some(Self::Denied { wait_us }),
            2 => Some(Self::CoolingDown { wait_us }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_map_to_verdicts_and_garbage_to_none() {
        assert_eq!(Verdict::from_reply((1, 0)), Some(Verdict::Allowed));
        assert_eq!(Verdict::from_reply((0, 20_000)), Some(Verdict::Denied { wait_us: 20_000 }));
        assert_eq!(Verdict::from_reply((2, 7)), Some(Verdict::CoolingDown { wait_us: 7 }));
        assert_eq!(Verdict::from_reply((3, 0)), None);
        assert_eq!(Verdict::from_reply((0, -1)), None);
    }

    #[test]
    fn scripts_are_named_by_their_sha1() {
        let script = Script::new("return 1");
        // `redis-cli SCRIPT LOAD "return 1"` answers this.
        assert_eq!(script.sha(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
        assert_eq!(Script::new(GCRA).sha().len(), 40);
    }
}
