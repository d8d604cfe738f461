//! Least privilege: once everything that needs root is done (the capture device is open, the
//! data directory, store and alert log are created and open, the HTTP port is bound and its
//! token and key are read), `run` switches to `sensor.run_as` / `--user` for good.
//!
//! The switch is supplementary groups, then group, then user (in that order: after `setuid`
//! the others are no longer permitted), applied to every thread of the process (glibc
//! broadcasts `setuid` and friends to all threads). It is then checked: if the process could
//! still become root again the daemon refuses to go on. Files the daemon keeps writing after the
//! switch (the data directory, the store and its WAL, the alert log) are handed to the user
//! first, so log rotation, the store's checkpoints and `/api/alerts` keep working.

use nix::unistd::{Gid, Uid, User};
use std::path::Path;

/// The account to switch to.
#[derive(Debug)]
pub(super) struct Target {
    name: String,
    uid: Uid,
    gid: Gid,
}

/// Looks `name` up in the user database. Done before anything is opened, so a typo fails at
/// start with exit 2.
pub(super) fn lookup(name: &str) -> Result<Target, String> {
    match User::from_name(name) {
        Ok(Some(u)) => Ok(Target {
            name: name.to_owned(),
            uid: u.uid,
            gid: u.gid,
        }),
        Ok(None) => Err(format!("run_as {name:?}: no such user")),
        Err(e) => Err(format!(
            "run_as {name:?}: cannot read the user database: {e}"
        )),
    }
}

impl Target {
    /// Hands `paths` (those that exist) to the target user, group unchanged where it already is
    /// the user's: the daemon writes them after the switch.
    pub(super) fn adopt(&self, paths: &[&Path]) -> Result<(), String> {
        for p in paths {
            if !p.exists() {
                continue;
            }
            nix::unistd::chown(*p, Some(self.uid), Some(self.gid))
                .map_err(|e| format!("{}: cannot hand it to {}: {e}", p.display(), self.name))?;
        }
        Ok(())
    }

    /// Switches the whole process to the target user and checks that it cannot switch back.
    pub(super) fn switch(&self) -> Result<(), String> {
        if nix::unistd::geteuid() == self.uid && nix::unistd::getegid() == self.gid {
            // Already that user (a service manager started it so): nothing to give up.
            return Ok(());
        }
        let fail = |what: &str, e: nix::Error| format!("switching to {}: {what}: {e}", self.name);
        nix::unistd::setgroups(&[self.gid]).map_err(|e| fail("setgroups", e))?;
        nix::unistd::setgid(self.gid).map_err(|e| fail("setgid", e))?;
        nix::unistd::setuid(self.uid).map_err(|e| fail("setuid", e))?;
        if !self.uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
            return Err(format!(
                "switching to {}: the process could become root again",
                self.name
            ));
        }
        if nix::unistd::geteuid() != self.uid || nix::unistd::getegid() != self.gid {
            return Err(format!("switching to {}: ids did not change", self.name));
        }
        Ok(())
    }
}
