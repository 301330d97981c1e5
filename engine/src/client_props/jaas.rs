//! Minimal parser for Java `sasl.jaas.config` values with username/password credentials.
//!
//! Only `PlainLoginModule` and `ScramLoginModule` carry credentials librdkafka can use
//! (`sasl.username` / `sasl.password`); other login modules (Kerberos, OAuth) are not translated.
//! Grammar handled: `<LoginModuleClass> <flag> (key=value)* ;` where values are bare words or
//! double-quoted strings with backslash escapes.

/// Extracts `(username, password)` from a Plain/Scram JAAS config, `None` otherwise.
pub(crate) fn credentials(jaas: &str) -> Option<(String, String)> {
    let mut chars = jaas.trim().chars().peekable();
    let module: String = take_word(&mut chars);
    let simple = module.rsplit('.').next().unwrap_or(&module);
    if simple != "PlainLoginModule" && simple != "ScramLoginModule" {
        return None;
    }
    skip_ws(&mut chars);
    let _flag = take_word(&mut chars);
    let (mut user, mut pass) = (None, None);
    loop {
        skip_ws(&mut chars);
        match chars.peek() {
            None | Some(';') => break,
            Some(_) => {}
        }
        let key: String = take_until(&mut chars, |c| c == '=' || c.is_whitespace());
        skip_ws(&mut chars);
        if chars.next() != Some('=') {
            return None;
        }
        skip_ws(&mut chars);
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            let mut v = String::new();
            loop {
                match chars.next()? {
                    '\\' => v.push(chars.next()?),
                    '"' => break,
                    c => v.push(c),
                }
            }
            v
        } else {
            take_until(&mut chars, |c| c.is_whitespace() || c == ';')
        };
        match key.as_str() {
            "username" => user = Some(value),
            "password" => pass = Some(value),
            _ => {}
        }
    }
    Some((user?, pass?))
}

fn skip_ws(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
}

fn take_word(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    skip_ws(chars);
    take_until(chars, char::is_whitespace)
}

fn take_until(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, stop: impl Fn(char) -> bool) -> String {
    let mut s = String::new();
    while let Some(&c) = chars.peek() {
        if stop(c) {
            break;
        }
        s.push(c);
        chars.next();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_scram() {
        assert_eq!(
            credentials(
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";"#
            ),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(
            credentials(
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required password=p2 username=u2 ;"#
            ),
            Some(("u2".into(), "p2".into()))
        );
    }

    #[test]
    fn other_modules_and_garbage() {
        assert_eq!(credentials(r#"com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;"#), None);
        assert_eq!(credentials("PlainLoginModule required username=\"u"), None);
        assert_eq!(credentials("PlainLoginModule required username=u;"), None);
        assert_eq!(credentials(""), None);
    }
}
