// The canonical encoding (canonical.hpp) and what is hashed with it: the definition digest, pinned
// to a fixed hex string so that any change of its bytes (a library's, or ours) is seen here first,
// and the seals of state files.
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include "steppar/canonical.hpp"
#include "steppar/definition.hpp"
#include "steppar/error.hpp"
#include "steppar/hash.hpp"
#include "steppar/marker.hpp"
#include "steppar/sealed.hpp"

#include <nlohmann/json.hpp>

#include <set>
#include <string>

using namespace steppar;
using steppar_test::contains;
using steppar_test::error_of;

namespace {

// A unit of two nodes with every kind of param value, built from fixed fields (no plugin file:
// the plugin digest is a given string).
UnitDefinition known_definition() {
    UnitDefinition d;
    NodeDefinition clean{"clean", "text.clean", std::string(64, 'a'), {"docs", "params:rules", "params:limit"}, {"cleaned"}, {}};
    clean.params["params:rules"] =
        R"({"min_length": 3, "ratio": 0.25, "stop": ["a", "an", "the"], "lower": true, "lang": "pt-BR", "note": null,)"
        R"( "nested": {"z": [1, 2.5, {"k": "v"}], "a": false}, "name": "S\u00e3o Paulo"})";
    clean.params["params:limit"] = "-12";
    NodeDefinition count{"count", "builtin.wc", std::string(64, 'b'), {"cleaned", "lookup"}, {"counts"}, {}};
    d.nodes = {clean, count};
    d.datasets["docs"] = {"partitioned", "/data/docs", ".txt", ""};
    d.datasets["cleaned"] = {"partitioned", "/state/data/cleaned", "", ".d"};
    d.datasets["counts"] = {"partitioned", "/out/counts", ".json", ""};
    d.datasets["lookup"] = {"file", "/data/lookup.csv", "", ""};
    d.files["lookup"] = "1f:5:0";
    return d;
}

// The same value as JSON text, in another key order and spacing.
const char* known_definition_json = R"({
  "nodes": [
    {"plugin": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "name": "clean", "function": "text.clean",
     "outputs": ["cleaned"], "inputs": ["docs", "params:rules", "params:limit"],
     "params": {"params:rules": {"stop": ["a", "an", "the"], "ratio": 0.25, "note": null, "nested": {"a": false, "z": [1, 2.5, {"k": "v"}]},
                                 "name": "São Paulo", "min_length": 3, "lower": true, "lang": "pt-BR"},
                "params:limit": -12}},
    {"name": "count", "function": "builtin.wc", "plugin": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
     "inputs": ["cleaned", "lookup"], "outputs": ["counts"], "params": {}}],
  "format": "steppar definition 2",
  "files": {"lookup": "1f:5:0"},
  "datasets": {"lookup": {"kind": "file", "path": "/data/lookup.csv", "suffix": "", "folder_suffix": ""},
               "docs": {"kind": "partitioned", "path": "/data/docs", "suffix": ".txt", "folder_suffix": ""},
               "counts": {"kind": "partitioned", "path": "/out/counts", "suffix": ".json", "folder_suffix": ""},
               "cleaned": {"kind": "partitioned", "path": "/state/data/cleaned", "suffix": "", "folder_suffix": ".d"}}})";

}  // namespace

BOOST_AUTO_TEST_SUITE(canonical)

BOOST_AUTO_TEST_CASE(each_type_has_its_tag) {
    BOOST_TEST(canonical_encoding("null") == "n");
    BOOST_TEST(canonical_encoding("false") == "f");
    BOOST_TEST(canonical_encoding(" true\n") == "t");
    BOOST_TEST(canonical_encoding("0") == "i0;");
    BOOST_TEST(canonical_encoding("42") == "i42;");
    BOOST_TEST(canonical_encoding("-7") == "i-7;");
    BOOST_TEST(canonical_encoding("-9223372036854775808") == "i-9223372036854775808;");
    BOOST_TEST(canonical_encoding("18446744073709551615") == "i18446744073709551615;");
    BOOST_TEST(canonical_encoding("\"hi\"") == "s2:hi");
    BOOST_TEST(canonical_encoding("\"\"") == "s0:");
    BOOST_TEST(canonical_encoding("[]") == "l0:");
    BOOST_TEST(canonical_encoding("{}") == "m0:");
    BOOST_TEST(canonical_encoding(R"([1, "a", [null]])") == "l3:i1;s1:al1:n");
}

BOOST_AUTO_TEST_CASE(floats_are_the_shortest_text_that_reads_back) {
    BOOST_TEST(canonical_encoding("1.0") == "d1;");
    BOOST_TEST(canonical_encoding("1.50") == "d1.5;");
    BOOST_TEST(canonical_encoding("0.1") == "d0.1;");
    BOOST_TEST(canonical_encoding("-2.5") == "d-2.5;");
    BOOST_TEST(canonical_encoding("1e2") == "d100;");
    BOOST_TEST(canonical_encoding("100000.0") == "d1e+05;");
    BOOST_TEST(canonical_encoding("1e100") == "d1e+100;");
    BOOST_TEST(canonical_encoding("-0.0") == "d-0;");
    BOOST_TEST(canonical_encoding("0.30000000000000004") == "d0.30000000000000004;");
    BOOST_TEST(canonical_encoding("5e-324") == "d5e-324;");
    BOOST_TEST(canonical_encoding("18446744073709551616") == "d18446744073709551616;");  // past 2^64-1: a float (%f is shorter)
    BOOST_TEST(canonical_encoding("1e21") == "d1e+21;");
}

BOOST_AUTO_TEST_CASE(one_true_and_the_string_one_differ) {
    const std::set<std::string> encodings = {canonical_encoding("1"),    canonical_encoding("1.0"),  canonical_encoding("\"1\""),
                                             canonical_encoding("true"), canonical_encoding("[1]"),  canonical_encoding(R"({"1": 1})"),
                                             canonical_encoding("null"), canonical_encoding("\"\""), canonical_encoding("0")};
    BOOST_TEST(encodings.size() == 9u);
    BOOST_TEST(canonical_encoding("1") == "i1;");
    BOOST_TEST(canonical_encoding("1.0") == "d1;");
    BOOST_TEST(canonical_encoding("\"1\"") == "s1:1");
    BOOST_TEST(canonical_encoding("\"true\"") != canonical_encoding("true"));
    // Lengths keep neighbours apart: no two sequences of strings meet.
    BOOST_TEST(canonical_encoding(R"(["ab", "c"])") != canonical_encoding(R"(["a", "bc"])"));
    BOOST_TEST(canonical_encoding(R"(["a:b;", ""])") == "l2:s4:a:b;s0:");
}

BOOST_AUTO_TEST_CASE(key_order_and_spacing_do_not_matter_list_order_does) {
    const std::string a = canonical_encoding(R"({"b": [1, {"y": 2, "x": 1}], "a": null})");
    const std::string b = canonical_encoding("{\n  \"a\" : null ,\n  \"b\" : [ 1 , { \"x\" : 1 , \"y\" : 2 } ]\n}\n");
    BOOST_TEST(a == b);
    BOOST_TEST(a == "m2:s1:ans1:bl2:i1;m2:s1:xi1;s1:yi2;");
    BOOST_TEST(canonical_encoding("[1, 2]") != canonical_encoding("[2, 1]"));
    BOOST_TEST(canonical_encoding(R"({"a": {"b": 1}})") != canonical_encoding(R"({"a": [{"b": 1}]})"));
    // The last of a key given twice counts, as for the JSON reader.
    BOOST_TEST(canonical_encoding(R"({"a": 1, "a": 2})") == canonical_encoding(R"({"a": 2})"));
}

BOOST_AUTO_TEST_CASE(strings_are_their_utf8_bytes_and_keys_sort_as_unsigned_bytes) {
    BOOST_TEST(canonical_encoding("\"\u00e9\"") == "s2:\xc3\xa9");
    BOOST_TEST(canonical_encoding(R"("\u00e9")") == "s2:\xc3\xa9");               // escaped or not, the same text
    BOOST_TEST(canonical_encoding(R"("e\u0301")") == "s3:e\xcc\x81");            // not normalised: another text
    BOOST_TEST(canonical_encoding(R"("\ud83d\ude00")") == "s4:\xf0\x9f\x98\x80");  // outside the BMP
    BOOST_TEST(canonical_encoding(R"("tab\there\"\\")") == "s10:tab\there\"\\");
    BOOST_TEST(canonical_encoding(R"("nul\u0000")") == std::string("s4:nul\0", 7));
    // 'Z' (0x5a) < 'z' (0x7a) < 'é' (0xc3 0xa9): as unsigned bytes, a prefix first.
    BOOST_TEST(canonical_encoding(R"({"é": 1, "z": 2, "Z": 3, "zz": 4})") == "m4:s1:Zi3;s1:zi2;s2:zzi4;s2:\xc3\xa9i1;");
}

BOOST_AUTO_TEST_CASE(what_is_not_json_is_refused) {
    for (const char* bad : {"", "{", "[1,]", "nan", "1 2", "'x'"})
        BOOST_TEST(contains(error_of<InputError>([&] { canonical_encoding(bad); }), "not a JSON value"), bad);
}

// The pin: this digest is in every ledger written since. (When this test was written, the three
// values were also computed from the banners of canonical.hpp and definition.hpp by a separate
// implementation.) If this test fails, definitions changed
// their bytes and every partition of every pipeline would run again after an upgrade: that needs
// a new "format" in definition.hpp and a note in the README, not a new pinned value alone.
BOOST_AUTO_TEST_CASE(the_digest_of_a_known_definition_is_pinned) {
    const UnitDefinition d = known_definition();
    BOOST_TEST(definition_encoding(d) == canonical_encoding(known_definition_json));
    BOOST_TEST(definition_digest(d) == "90e7143f786cf5cb09fdbdaf1359d81b8a79914af426af59b57811f3f8be247f");
    BOOST_TEST(definition_digest(d) == sha256_hex(canonical_encoding(known_definition_json)));

    Configurator north;
    north.name = "north";
    north.data = R"({"rate": 2, "regions": ["n1", "n2"], "factor": 1.5})";
    BOOST_TEST(configured_definition_digest(definition_digest(d), &north) ==
               "0b374f1a8d9bd77d563498d3fb896c307701050f3accd006c35f4c94303e4b43");
    BOOST_TEST(configured_definition_digest(definition_digest(d), nullptr) ==
               "23a0861866145a77b6343267ea4a9da74a39ef3359858dbf2e345dc058ce29f6");
}

BOOST_AUTO_TEST_CASE(a_param_is_its_value_not_its_spelling) {
    const std::string base = definition_digest(known_definition());
    auto with_limit = [](const std::string& text) {
        UnitDefinition d = known_definition();
        d.nodes[0].params["params:limit"] = text;
        return definition_digest(d);
    };
    BOOST_TEST(with_limit(" -12 ") == base);
    std::set<std::string> digests = {base};
    for (const char* other : {"12", "-12.0", "\"-12\"", "true", "null", "[-12]"}) digests.insert(with_limit(other));
    BOOST_TEST(digests.size() == 7u);

    UnitDefinition reordered = known_definition();
    reordered.nodes[0].params["params:rules"] = nlohmann::json::parse(reordered.nodes[0].params["params:rules"]).dump(4);
    BOOST_TEST(definition_digest(reordered) == base);
    UnitDefinition renamed = known_definition();
    renamed.nodes[1].name = "count2";
    BOOST_TEST(definition_digest(renamed) != base);
    UnitDefinition stamped = known_definition();
    stamped.files["lookup"] = "1f:6:0";
    BOOST_TEST(definition_digest(stamped) != base);

    Configurator c;
    c.name = "north";
    c.data = R"({"rate": 2})";
    Configurator respaced = c;
    respaced.data = "{ \"rate\" : 2 }";
    Configurator other = c;
    other.data = R"({"rate": 2.0})";
    BOOST_TEST(configured_definition_digest(base, &c) == configured_definition_digest(base, &respaced));
    BOOST_TEST(configured_definition_digest(base, &c) != configured_definition_digest(base, &other));
    BOOST_TEST(configured_definition_digest(base, &c) != configured_definition_digest(base, nullptr));
}

BOOST_AUTO_TEST_CASE(seals_are_checksums_of_the_canonical_encoding) {
    const std::string object = R"({"format": 2, "unit": "count", "slice": 0, "plan_id": "p", "generation": 3, "written": {},)"
                               R"( "fingerprint": "f", "status": "success", "partitions": 1, "outputs": ["counts"], "pid": 7,)"
                               R"( "host": "h", "seconds": 1.5})";
    auto sealed = nlohmann::json::parse(sealed_json(object));
    BOOST_TEST(sealed["checksum"].get<std::string>() == sha256_hex(canonical_encoding(object)));
    BOOST_TEST(marker_from_json(sealed.dump(), "spaced otherwise").success);
    // A marker sealed before the canonical encoding (the SHA-256 of nlohmann's compact dump) is
    // still read; one whose checksum matches neither is damaged.
    auto old = nlohmann::json::parse(object);
    old["checksum"] = sha256_hex(nlohmann::json::parse(object).dump());
    BOOST_TEST(marker_from_json(old.dump(1), "old").success);
    old["pid"] = 8;
    BOOST_TEST(contains(error_of<StateError>([&] { marker_from_json(old.dump(1), "old"); }), "is damaged"));
}

BOOST_AUTO_TEST_SUITE_END()
