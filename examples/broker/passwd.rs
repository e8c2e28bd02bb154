//! A Mosquitto password file, as `mosquitto_passwd` writes it, and the check of a CONNECT's
//! user name and password against it.
//!
//! One user a line, `USER:HASH`; a line whose first non-blank character is `#` is a comment,
//! blank lines are skipped. Two hashes, both over 12 random salt bytes and 64 hash bytes, in
//! standard base64 (mosquitto_passwd(1); `pw__hash` in Mosquitto's `src/password_mosq.c`,
//! `unpwd__decode_passwords` and `pw__digest` in `src/security_default.c`):
//!
//! - `$7$ITERATIONS$SALT$HASH`: PBKDF2-HMAC-SHA512 of the password (Mosquitto 2.0's default,
//!   101 iterations);
//! - `$6$SALT$HASH`: SHA-512 of the password followed by the salt (Mosquitto 1.6 and before,
//!   `mosquitto_passwd -H sha512`).
//!
//! Where Mosquitto logs a bad line and leaves the user out (a plain-text password, an unknown
//! hash type, a salt or hash of the wrong length) or skips it silently (no `:`), loading fails
//! here with the line's number, so that a user is never locked out without a word. The error
//! names the user, never the hash.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::path::Path;

use super::file_error::{FileError, LineProblem};

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// Bytes of salt in every hash Mosquitto writes and reads (`SALT_LEN`).
pub const SALT_LEN: usize = 12;
/// Bytes of a SHA-512 hash.
pub const HASH_LEN: usize = 64;
/// The iterations `mosquitto_passwd` uses for PBKDF2 (`PW_DEFAULT_ITERATIONS`).
pub const DEFAULT_ITERATIONS: u32 = 101;

/// How a user's password is hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Hash {
    /// `$6$`: SHA-512(password ‖ salt).
    Sha512 { salt: [u8; SALT_LEN], hash: [u8; HASH_LEN] },
    /// `$7$`: PBKDF2-HMAC-SHA512(password, salt, iterations), 64 bytes.
    Pbkdf2 { iterations: NonZeroU32, salt: [u8; SALT_LEN], hash: [u8; HASH_LEN] },
}

impl Hash {
    /// Reads the part after `USER:`.
    fn parse(s: &str) -> Result<Self, Problem> {
        let Some(s) = s.strip_prefix('$') else { return Err(Problem::NotHashed) };
        let mut parts = s.split('$');
        let kind = parts.next().unwrap_or_default();
        let iterations = match kind {
            "6" => None,
            "7" => {
                let n = parts.next().ok_or(Problem::Malformed("iterations"))?;
                let n = n.parse::<u32>().ok().and_then(NonZeroU32::new);
                Some(n.ok_or(Problem::Malformed("iterations"))?)
            }
            _ => return Err(Problem::UnknownHashType),
        };
        let salt = decode(parts.next(), "salt")?;
        let hash = decode(parts.next(), "hash")?;
        if parts.next().is_some() {
            return Err(Problem::Malformed("hash"));
        }
        Ok(match iterations {
            None => Hash::Sha512 { salt, hash },
            Some(iterations) => Hash::Pbkdf2 { iterations, salt, hash },
        })
    }

    /// The hash of `password` with this entry's salt (and iterations).
    fn digest(&self, password: &[u8]) -> [u8; HASH_LEN] {
        let mut out = [0; HASH_LEN];
        match self {
            Hash::Sha512 { salt, .. } => {
                out.copy_from_slice(
                    &Sha512::new().chain_update(password).chain_update(salt).finalize(),
                );
            }
            Hash::Pbkdf2 { iterations, salt, .. } => {
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations.get(), &mut out);
            }
        }
        out
    }

    /// Whether `password` hashes to this entry, the hashes compared in constant time.
    fn verify(&self, password: &[u8]) -> bool {
        let (Hash::Sha512 { hash, .. } | Hash::Pbkdf2 { hash, .. }) = self;
        self.digest(password).ct_eq(hash).into()
    }
}

/// Decodes one base64 field of exactly `N` bytes.
fn decode<const N: usize>(field: Option<&str>, what: &'static str) -> Result<[u8; N], Problem> {
    let bytes =
        Base64::decode_vec(field.unwrap_or_default()).map_err(|_| Problem::Malformed(what))?;
    bytes.try_into().map_err(|_| Problem::Malformed(what))
}

/// The users of a password file and their hashed passwords.
#[derive(Clone, Debug, Default)]
pub struct PasswordFile {
    users: HashMap<String, Hash>,
}

impl PasswordFile {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Read { path: path.to_owned(), source })?;
        Self::parse(&text)
    }

    /// Parses the text of a password file.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut users = HashMap::new();
        let mut lines = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let number = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |user: &str, problem| {
                let line = if user.is_empty() { String::new() } else { format!("user {user:?}") };
                Error::Line { number, line, problem }
            };
            // Mosquitto trims blanks around both fields (`pwfile__parse`).
            let Some((user, hash)) = line.split_once(':') else {
                return Err(fail("", Problem::MissingColon));
            };
            let user = user.trim();
            if user.is_empty() {
                return Err(fail(user, Problem::EmptyUser));
            }
            let hash = Hash::parse(hash.trim()).map_err(|p| fail(user, p))?;
            if let Some(&first_line) = lines.get(user) {
                return Err(fail(user, Problem::DuplicateUser { first_line }));
            }
            lines.insert(user.to_owned(), number);
            users.insert(user.to_owned(), hash);
        }
        Ok(PasswordFile { users })
    }

    /// Whether `user` is in the file and `password` is theirs.
    ///
    /// The computed hash is compared with the stored one in constant time. A user who is not in
    /// the file costs one PBKDF2 of `mosquitto_passwd`'s default strength all the same, so the
    /// time taken tells less about who is.
    pub fn verify(&self, user: &str, password: impl AsRef<[u8]>) -> bool {
        match self.users.get(user) {
            Some(hash) => hash.verify(password.as_ref()),
            None => {
                let iterations = NonZeroU32::new(DEFAULT_ITERATIONS).unwrap_or(NonZeroU32::MIN);
                let unknown = Hash::Pbkdf2 { iterations, salt: [0; SALT_LEN], hash: [0; HASH_LEN] };
                let _ = unknown.verify(password.as_ref());
                false
            }
        }
    }

    /// Whether `user` is in the file.
    pub fn contains(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// The users in the file, in no particular order.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// How many users the file has.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file has no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Why a password file was refused (a line is shown as its user name only, never its hash).
pub type Error = FileError<Problem>;

/// What is wrong with a line of a password file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// No `:` between user name and hash.
    MissingColon,
    /// Nothing before the `:`.
    EmptyUser,
    /// A password not hashed (`mosquitto_passwd -U FILE` hashes a plain-text file).
    NotHashed,
    /// A hash type other than `$6$` and `$7$`.
    UnknownHashType,
    /// The named field is not what `mosquitto_passwd` writes (iterations: a number from 1;
    /// salt: 12 bytes of base64; hash: 64).
    Malformed(&'static str),
    /// The user already has a line (`first_line`).
    DuplicateUser {
        /// Where the user's first line is.
        first_line: usize,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingColon => f.write_str("expected USER:HASH"),
            Problem::EmptyUser => f.write_str("empty user name"),
            Problem::NotHashed => {
                f.write_str("password not hashed (mosquitto_passwd -U FILE hashes the file)")
            }
            Problem::UnknownHashType => f.write_str("unknown hash type (expected $6$ or $7$)"),
            Problem::Malformed(field) => write!(f, "malformed {field}"),
            Problem::DuplicateUser { first_line } => {
                write!(f, "user already defined on line {first_line}")
            }
        }
    }
}

impl LineProblem for Problem {
    const FILE: &'static str = "password file";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    /// From Mosquitto's own tests (`test/broker/01-connect-uname-or-anon.pwfile`): user `user`,
    /// password `password`, the 1.x hash.
    const MOSQUITTO_SHA512: &str = "user:$6$Ut1cUS9PG8+gC3vn$tOjCfSJJDe1Alu9HktxxyyzwN4+6mAMSWGRAF9gmMN8pzcGTPVEYYMAZpCEp96Oz2ZRRz5YKM6lPMf1tUbb6zA==";
    /// Written by `mosquitto_passwd -b FILE alice secret` (Mosquitto 2.0.11).
    const MOSQUITTO_PBKDF2: &str = "alice:$7$101$vNrx3umh7V8jEtaF$9UD6LgawOCyuAdJWz8E2tuxfghHDgh3Hy2f7OgOgKlXpS9a/9kOGbHR26cNfTHyVJV0/yBvaQHioipGPxWal0Q==";

    /// A fresh directory for one test.
    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("broker-passwd-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Runs the real `mosquitto_passwd`; fails the test, saying why, when it is not installed.
    fn mosquitto_passwd(args: &[&str]) {
        let out = Command::new("mosquitto_passwd").args(args).output().unwrap_or_else(|e| {
            panic!(
                "cannot run mosquitto_passwd ({e}): these tests check files written by the real \
                 tool; install Mosquitto (Debian: apt-get install mosquitto)"
            )
        });
        assert!(
            out.status.success(),
            "mosquitto_passwd {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn line_problem(text: &str) -> (usize, Problem) {
        match PasswordFile::parse(text) {
            Err(Error::Line { number, problem, .. }) => (number, problem),
            other => panic!("expected a line error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn files_written_by_mosquitto_passwd() {
        let dir = temp_dir("tool");
        let file = dir.join("passwd");
        let f = file.to_str().unwrap();
        // 2.0's default, PBKDF2-HMAC-SHA512.
        mosquitto_passwd(&["-c", "-b", f, "alice", "correct horse"]);
        mosquitto_passwd(&["-H", "sha512-pbkdf2", "-b", f, "bob", "p\u{e4}ssw\u{f6}rd"]);
        // 1.x's SHA-512.
        mosquitto_passwd(&["-H", "sha512", "-b", f, "carol", "s3cret:with$signs"]);
        mosquitto_passwd(&["-b", f, "dave with spaces", "x"]);

        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.matches(":$7$").count(), 3, "{text}");
        assert_eq!(text.matches(":$6$").count(), 1, "{text}");

        let p = PasswordFile::load(&file).unwrap();
        assert_eq!(p.len(), 4);
        assert!(p.verify("alice", "correct horse"));
        assert!(p.verify("bob", "p\u{e4}ssw\u{f6}rd"));
        assert!(p.verify("carol", "s3cret:with$signs"));
        assert!(p.verify("dave with spaces", b"x"));

        // Wrong passwords, other users' passwords, near misses.
        assert!(!p.verify("alice", "correct horse "));
        assert!(!p.verify("alice", "Correct horse"));
        assert!(!p.verify("alice", ""));
        assert!(!p.verify("bob", "correct horse"));
        assert!(!p.verify("carol", "s3cret"));
        // Unknown users, and user names are case-sensitive.
        assert!(!p.verify("eve", "correct horse"));
        assert!(!p.verify("Alice", "correct horse"));
        assert!(!p.verify("", ""));
        assert!(p.contains("carol") && !p.contains("eve"));

        // A password changed with the tool, and a user deleted.
        mosquitto_passwd(&["-b", f, "alice", "new"]);
        mosquitto_passwd(&["-D", f, "bob"]);
        let p = PasswordFile::load(&file).unwrap();
        assert!(p.verify("alice", "new") && !p.verify("alice", "correct horse"));
        assert!(!p.contains("bob") && !p.verify("bob", "p\u{e4}ssw\u{f6}rd"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_plain_text_file_upgraded_by_mosquitto_passwd() {
        let dir = temp_dir("upgrade");
        let file = dir.join("passwd");
        std::fs::write(&file, "one:first\ntwo:second\n").unwrap();
        let (n, p) = line_problem(&std::fs::read_to_string(&file).unwrap());
        assert_eq!((n, p), (1, Problem::NotHashed));
        mosquitto_passwd(&["-U", file.to_str().unwrap()]);
        let p = PasswordFile::load(&file).unwrap();
        assert!(p.verify("one", "first") && p.verify("two", "second"));
        assert!(!p.verify("one", "second"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fixed_vectors() {
        let text = format!("# users\n\n{MOSQUITTO_SHA512}\r\n  {MOSQUITTO_PBKDF2}  \n");
        let p = PasswordFile::parse(&text).unwrap();
        assert_eq!(p.len(), 2);
        assert!(p.verify("user", "password"));
        assert!(!p.verify("user", "password9"));
        assert!(p.verify("alice", "secret"));
        assert!(!p.verify("alice", "Secret"));
        let mut users: Vec<_> = p.users().collect();
        users.sort_unstable();
        assert_eq!(users, ["alice", "user"]);
        assert!(PasswordFile::parse("# only a comment\n").unwrap().is_empty());
    }

    #[test]
    fn the_iteration_count_is_used() {
        // The same salt and hash read with 102 iterations no longer verify.
        let other = MOSQUITTO_PBKDF2.replace("$7$101$", "$7$102$");
        assert!(!PasswordFile::parse(&other).unwrap().verify("alice", "secret"));
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        let salt = "vNrx3umh7V8jEtaF";
        let hash = MOSQUITTO_PBKDF2.rsplit('$').next().unwrap();
        let cases: &[(&str, Problem)] = &[
            ("alice", Problem::MissingColon),
            (":$6$x$y", Problem::EmptyUser),
            ("alice:secret", Problem::NotHashed),
            ("alice:", Problem::NotHashed),
            ("alice:$5$abc$def", Problem::UnknownHashType),
            ("alice:$$abc", Problem::UnknownHashType),
            (&format!("alice:$7$0${salt}${hash}"), Problem::Malformed("iterations")),
            (&format!("alice:$7$-1${salt}${hash}"), Problem::Malformed("iterations")),
            (&format!("alice:$7${salt}${hash}"), Problem::Malformed("iterations")),
            (&format!("alice:$7$101$!!!${hash}"), Problem::Malformed("salt")),
            (&format!("alice:$7$101$YWJj${hash}"), Problem::Malformed("salt")),
            (&format!("alice:$7$101${salt}$YWJj"), Problem::Malformed("hash")),
            (&format!("alice:$7$101${salt}"), Problem::Malformed("hash")),
            (&format!("alice:$7$101${salt}${hash}$"), Problem::Malformed("hash")),
            (&format!("alice:$6${salt}"), Problem::Malformed("hash")),
        ];
        for (line, problem) in cases {
            let text = format!("# header\n{MOSQUITTO_SHA512}\n{line}\n");
            assert_eq!(line_problem(&text), (3, problem.clone()), "{line}");
        }
        let dup = format!("{MOSQUITTO_PBKDF2}\n{MOSQUITTO_SHA512}\n{MOSQUITTO_PBKDF2}\n");
        assert_eq!(line_problem(&dup), (3, Problem::DuplicateUser { first_line: 1 }));
    }

    #[test]
    fn errors_name_the_line_and_user_but_not_the_hash() {
        let text = format!("{MOSQUITTO_SHA512}\nbob:$7$101$AAAA$BBBB\n");
        let e = PasswordFile::parse(&text).unwrap_err();
        let shown = e.to_string();
        assert_eq!(shown, "password file line 2: malformed salt: user \"bob\"");
        assert!(!shown.contains("BBBB"));
        let e = PasswordFile::parse("nocolon\n").unwrap_err();
        assert_eq!(e.to_string(), "password file line 1: expected USER:HASH");
        let e = PasswordFile::load(Path::new("/nonexistent/passwd")).unwrap_err();
        assert!(matches!(e, Error::Read { .. }) && e.to_string().contains("/nonexistent/passwd"));
    }
}
