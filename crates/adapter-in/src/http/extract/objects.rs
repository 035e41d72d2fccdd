//! A deserializer over parsed JSON that reads structs from JSON objects only, at any depth.
//!
//! Serde's derived `Deserialize` of a struct also takes a sequence and fills the fields by
//! position, and `serde_json` hands arrays to it: `{"kinds": {"SECURITY": [true, []]}}` would be
//! read as `{"allowed": true, "channels": []}`. Every struct of this API is a JSON object with
//! named members (SPEC §5), so here an array where an object is described is a type error
//! (400 naming the field). Everything else is left to `serde_json::Value`'s own deserializer.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde_json::{Error, Value};

/// A JSON value to deserialize with structs read from objects only.
#[derive(Debug)]
pub(super) struct ObjectsOnly(pub(super) Value);

/// Leaves values without nesting to `Value`'s deserializer.
macro_rules! forward_to_value {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.0.$method(visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for ObjectsOnly {
    type Error = Error;

    forward_to_value! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128 deserialize_f32
        deserialize_f64 deserialize_char deserialize_str deserialize_string deserialize_bytes
        deserialize_byte_buf deserialize_unit deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visit_array(items, visitor),
            Value::Object(members) => visit_object(members, visitor),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(ObjectsOnly(other)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visit_array(items, visitor),
            other => other.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(members) => visit_object(members, visitor),
            other => other.deserialize_map(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(members) => visit_object(members, visitor),
            // The one difference from `Value`, which would fill the fields by position.
            Value::Array(_) => Err(de::Error::invalid_type(Unexpected::Seq, &visitor)),
            other => other.deserialize_struct(name, fields, visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // The API's enums are unit variants spelled as strings: nothing nested to guard.
        self.0.deserialize_enum(name, variants, visitor)
    }
}

fn visit_array<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value, Error> {
    let len = items.len();
    let mut seq = Elements(items.into_iter());
    let value = visitor.visit_seq(&mut seq)?;
    if seq.0.len() == 0 { Ok(value) } else { Err(de::Error::invalid_length(len, &"fewer elements in array")) }
}

fn visit_object<'de, V: Visitor<'de>>(
    members: serde_json::Map<String, Value>,
    visitor: V,
) -> Result<V::Value, Error> {
    visitor.visit_map(Members { members: members.into_iter(), value: None })
}

struct Elements(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Elements {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.0.next().map(|item| seed.deserialize(ObjectsOnly(item))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Members {
    members: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for Members {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.members.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(de::value::StringDeserializer::<Error>::new(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.value.take().ok_or_else(|| de::Error::custom("a member value was read twice"))?;
        seed.deserialize(ObjectsOnly(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        allowed: Option<bool>,
        channels: Option<Vec<String>>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        kinds: BTreeMap<String, Inner>,
        list: Option<Vec<Inner>>,
        inner: Option<Inner>,
        extra: Option<Value>,
    }

    fn read(value: Value) -> Result<Outer, Error> {
        Outer::deserialize(ObjectsOnly(value))
    }

    #[test]
    fn objects_read_as_structs_at_every_depth() {
        let outer = read(json!({
            "kinds": {"A": {"allowed": false, "channels": ["X"]}},
            "list": [{"allowed": true}],
            "inner": null,
            "extra": [1, {"a": [null]}],
        }))
        .unwrap();
        assert_eq!(outer.kinds["A"], Inner { allowed: Some(false), channels: Some(vec!["X".into()]) });
        assert_eq!(outer.list, Some(vec![Inner { allowed: Some(true), channels: None }]));
        assert_eq!(outer.inner, None);
        assert_eq!(outer.extra, Some(json!([1, {"a": [null]}])));
    }

    #[test]
    fn an_array_in_place_of_a_struct_is_refused_at_every_depth() {
        for body in [
            json!([{}, null, null, null]),
            json!({"kinds": {"A": [true, []]}}),
            json!({"kinds": {}, "list": [[true]]}),
            json!({"kinds": {}, "inner": [null, null]}),
        ] {
            let error = read(body.clone()).unwrap_err().to_string();
            assert!(error.contains("invalid type: sequence"), "{body}: {error}");
        }
    }

    #[test]
    fn other_type_errors_and_unknown_members_are_reported_as_before() {
        let error = read(json!({"kinds": {"A": {"allowed": "yes"}}})).unwrap_err().to_string();
        assert!(error.contains("invalid type: string \"yes\", expected a boolean"), "{error}");
        let error = read(json!({"kinds": {}, "colour": 1})).unwrap_err().to_string();
        assert!(error.contains("unknown field `colour`"), "{error}");
    }
}
