//! `natop sign`: print the string a signature is computed over and the
//! signature, for exactly the parameters given.

use std::io::BufRead;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};

use crate::cloud::alibaba::signer as alibaba;
use crate::cloud::ucloud::signer as ucloud;
use crate::cloud::wire::Params;

/// Which cloud's signature to compute.
#[derive(Debug, Subcommand)]
pub enum SignCommand {
    /// Alibaba RPC signature 1.0 (HMAC-SHA1): prints StringToSign, then the Signature.
    Alibaba(AlibabaSign),
    /// UCloud signature (SHA-1 hex): prints the hashed string, then the Signature.
    Ucloud(UcloudSign),
}

/// HTTP method of the signed request.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Method {
    /// GET.
    #[value(name = "GET")]
    Get,
    /// POST (what natop and the official SDKs send).
    #[value(name = "POST")]
    Post,
}

/// Arguments of `natop sign alibaba`.
#[derive(Debug, Args)]
#[command(group = ArgGroup::new("key").required(true).args(["secret", "secret_stdin"]))]
pub struct AlibabaSign {
    /// AccessKeySecret to sign with. Prefer the variable or --secret-stdin: an
    /// argument shows in the process list of everyone on the machine.
    #[arg(long, env = "NATOP_SIGN_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Read the AccessKeySecret from the first line of standard input.
    #[arg(long, conflicts_with = "secret")]
    pub secret_stdin: bool,
    /// HTTP method of the request.
    #[arg(long, value_enum, default_value = "POST", ignore_case = true)]
    pub method: Method,
    /// Parameters as NAME=VALUE, exactly as sent (none is added).
    #[arg(value_parser = parse_param, value_name = "NAME=VALUE")]
    pub params: Vec<(String, String)>,
}

/// Arguments of `natop sign ucloud`.
#[derive(Debug, Args)]
#[command(group = ArgGroup::new("key").required(true).args(["private_key", "private_key_stdin"]))]
pub struct UcloudSign {
    /// Private key to sign with. Prefer the variable or --private-key-stdin: an
    /// argument shows in the process list of everyone on the machine.
    #[arg(long, env = "NATOP_SIGN_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
    /// Read the private key from the first line of standard input.
    #[arg(long, conflicts_with = "private_key")]
    pub private_key_stdin: bool,
    /// Parameters as NAME=VALUE, exactly as sent, PublicKey included.
    #[arg(value_parser = parse_param, value_name = "NAME=VALUE")]
    pub params: Vec<(String, String)>,
}

/// Split `NAME=VALUE` at the first `=`; the value may be empty or contain `=`.
fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some(("", _)) => Err(format!("{text:?}: the name is empty")),
        Some((name, value)) => Ok((name.to_string(), value.to_string())),
        None => Err(format!("{text:?}: expected NAME=VALUE")),
    }
}

fn to_params(pairs: &[(String, String)]) -> Params {
    pairs.iter().cloned().collect()
}

/// The key given on the command line or in the variable, else the first
/// line of `stdin` (without its line ending).
fn key(given: Option<&str>, stdin: &mut dyn BufRead, what: &str) -> Result<String, String> {
    if let Some(key) = given {
        return Ok(key.to_string());
    }
    let mut line = String::new();
    stdin
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the {what} from standard input: {e}"))?;
    let key = line.trim_end_matches(['\r', '\n']).to_string();
    if key.is_empty() {
        return Err(format!("standard input holds no {what}"));
    }
    Ok(key)
}

/// The text `natop sign` prints: the signed string, then the signature alone
/// on the last line. A key to read from standard input is read from `stdin`.
pub fn render(cmd: &SignCommand, stdin: &mut dyn BufRead) -> Result<String, String> {
    Ok(match cmd {
        SignCommand::Alibaba(a) => {
            let method = match a.method {
                Method::Get => "GET",
                Method::Post => "POST",
            };
            let secret = key(a.secret.as_deref(), stdin, "AccessKeySecret")?;
            let (sts, signature) = alibaba::sign(method, &to_params(&a.params), &secret);
            format!("{sts}\n{signature}\n")
        }
        SignCommand::Ucloud(u) => {
            let private_key = key(u.private_key.as_deref(), stdin, "private key")?;
            let params = to_params(&u.params);
            let hashed = ucloud::string_to_hash(&params, &private_key);
            let signature = ucloud::sign(&params, &private_key);
            format!("{hashed}\n{signature}\n")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_split_at_the_first_equals() {
        assert_eq!(parse_param("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(parse_param("A=").unwrap(), ("A".into(), String::new()));
        assert!(parse_param("A").is_err());
        assert!(parse_param("=v").is_err());
    }

    #[test]
    fn a_key_comes_from_the_argument_or_the_first_line_of_standard_input() {
        let mut empty = std::io::Cursor::new(Vec::new());
        assert_eq!(key(Some("s"), &mut empty, "key").unwrap(), "s");
        let mut piped = std::io::Cursor::new(b"secret\r\nnext\n".to_vec());
        assert_eq!(key(None, &mut piped, "key").unwrap(), "secret");
        let mut empty = std::io::Cursor::new(Vec::new());
        assert!(key(None, &mut empty, "key").unwrap_err().contains("no key"));
    }
}
