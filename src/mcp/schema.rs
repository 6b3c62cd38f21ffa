//! Checks tool arguments against the tool's `inputSchema`. The schemas are ours and use a small subset of JSON
//! Schema (an object of string/integer/boolean/array-of-string properties, `enum`, `minimum`/`maximum`, `required`,
//! `additionalProperties: false`), so a small checker that gives a model an actionable message beats a general
//! validator's size in the wasm binary.

use serde_json::Value;

/// Returns a message naming the first argument that does not fit, written so a model can correct its call.
pub fn validate(schema: &Value, args: &Value) -> Result<(), String> {
    let Some(args) = args.as_object() else {
        return Err("arguments must be a JSON object".into());
    };
    let props = schema.get("properties").and_then(Value::as_object);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required.iter().filter_map(Value::as_str) {
            if !args.contains_key(r) {
                return Err(format!("missing required argument `{r}`"));
            }
        }
    }
    for (key, value) in args {
        let Some(prop) = props.and_then(|p| p.get(key)) else {
            if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
                let known: Vec<&str> = props.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                return Err(format!("unknown argument `{key}`; accepted arguments: {}", known.join(", ")));
            }
            continue;
        };
        check(key, prop, value)?;
    }
    Ok(())
}

fn check(key: &str, prop: &Value, value: &Value) -> Result<(), String> {
    let ty = prop.get("type").and_then(Value::as_str).unwrap_or("");
    let ok = match ty {
        "string" => value.is_string(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !ok {
        return Err(format!("argument `{key}` must be of type {ty}, got {}", kind(value)));
    }
    if let Some(options) = prop.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            let list: Vec<String> = options.iter().map(|o| o.to_string()).collect();
            return Err(format!("argument `{key}` must be one of {}, got {value}", list.join(", ")));
        }
    }
    if let Some(n) = value.as_i64() {
        if let Some(min) = prop.get("minimum").and_then(Value::as_i64) {
            if n < min {
                return Err(format!("argument `{key}` must be at least {min}, got {n}"));
            }
        }
        if let Some(max) = prop.get("maximum").and_then(Value::as_i64) {
            if n > max {
                return Err(format!("argument `{key}` must be at most {max}, got {n}"));
            }
        }
    }
    if let (Some(items), Some(arr)) = (prop.get("items"), value.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(&format!("{key}[{i}]"), items, item)?;
        }
    }
    if let (Some(s), Some(min)) = (value.as_str(), prop.get("minLength").and_then(Value::as_u64)) {
        if (s.chars().count() as u64) < min {
            return Err(format!("argument `{key}` must not be empty"));
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_name_the_argument() {
        let s = json!({"type":"object","properties":{"name":{"type":"string","minLength":1},"limit":{"type":"integer","minimum":1,"maximum":5},"surface":{"type":"string","enum":["a","b"]}},"required":["name"],"additionalProperties":false});
        assert!(validate(&s, &json!({"name":"x"})).is_ok());
        assert!(validate(&s, &json!({})).unwrap_err().contains("`name`"));
        assert!(validate(&s, &json!({"name":1})).unwrap_err().contains("type string"));
        assert!(validate(&s, &json!({"name":""})).unwrap_err().contains("empty"));
        assert!(validate(&s, &json!({"name":"x","limit":9})).unwrap_err().contains("at most 5"));
        assert!(validate(&s, &json!({"name":"x","surface":"c"})).unwrap_err().contains("one of"));
        assert!(validate(&s, &json!({"name":"x","bogus":1})).unwrap_err().contains("unknown argument `bogus`"));
        assert!(validate(&s, &json!([1])).is_err());
    }
}
