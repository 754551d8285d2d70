#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include "steppar/error.hpp"
#include "steppar/hash.hpp"
#include "steppar/marker.hpp"
#include "steppar/atomic_file.hpp"
#include "steppar/plan.hpp"
#include "steppar/sealed.hpp"
#include "steppar/pipeline.hpp"
#include "steppar/vouching.hpp"

#include <algorithm>
#include <filesystem>
#include <unistd.h>

#include <string>
#include <vector>

namespace fs = std::filesystem;
using steppar_test::contains;
using steppar_test::error_of;

namespace {

const std::vector<std::string> ten = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};

// A valid plan index, written by hand so it does not depend on index_json.
std::string plan_text(const std::string& format = "3", const std::string& extra_field = "",
                      const std::string& slice_count = "2", const std::string& second_slice_index = "1") {
    return R"({"format": )" + format + R"(, "unit": "count", "plan_id": "abc123", "generation": 4, "definition": "d",)"
           R"( "summary": {"new": 1, "changed": 2, "up_to_date": 3, "retracted": 0}, "inputs": ["docs"],)" + extra_field +
           R"( "slice_count": )" + slice_count +
           R"(, "partition_count": 3, "slices": [{"slice": 0, "partitions": 2, "digest": "d0"}, {"slice": )" + second_slice_index +
           R"(, "partitions": 1, "digest": "d1"}]})";
}

// The same, sealed as the writer seals it (sealed.hpp).
std::string sealed_plan_text(const std::string& format = "3", const std::string& extra_field = "",
                             const std::string& slice_count = "2", const std::string& second_slice_index = "1") {
    return steppar::sealed_json(plan_text(format, extra_field, slice_count, second_slice_index));
}

steppar::Marker success_marker() {
    steppar::Marker m;
    m.unit = "count";
    m.slice = 3;
    m.plan_id = "0f1e2d";
    m.success = true;
    m.generation = 9;
    m.partitions = 2;
    m.written = {{"/out/total.json", "1f:5:0"}};
    m.outputs = {"counts", "lengths"};
    m.pid = 4242;
    m.host = "box-1";
    m.seconds = 0.25;
    m.fingerprint = "9a8b7c";
    m.metrics = {{"records", 12}, {"bad_lines", -3}};
    m.skipped = 4;
    return m;
}

steppar::Marker failed_marker() {
    steppar::Marker m = success_marker();
    m.success = false;
    m.failed_partition = "b";
    m.message = "word_count: \"b\" is not UTF-8\nsecond line";
    return m;
}

void check_same(const steppar::Marker& a, const steppar::Marker& b) {
    BOOST_TEST(a.unit == b.unit);
    BOOST_TEST(a.slice == b.slice);
    BOOST_TEST(a.plan_id == b.plan_id);
    BOOST_TEST(a.success == b.success);
    BOOST_TEST(a.partitions == b.partitions);
    BOOST_TEST(a.generation == b.generation);
    BOOST_TEST((a.written == b.written));
    BOOST_TEST(a.outputs == b.outputs, boost::test_tools::per_element());
    BOOST_TEST(a.pid == b.pid);
    BOOST_TEST(a.host == b.host);
    BOOST_TEST(a.seconds == b.seconds);
    BOOST_TEST(a.failed_partition == b.failed_partition);
    BOOST_TEST(a.message == b.message);
    BOOST_TEST(a.fingerprint == b.fingerprint);
    BOOST_TEST((a.metrics == b.metrics));
    BOOST_TEST(a.skipped == b.skipped);
}

const std::string marker_success_text =
    R"({"format": 2, "unit": "count", "slice": 0, "plan_id": "p", "generation": 3, "written": {}, "fingerprint": "f", "status": "success", "partitions": 1,)"
    R"( "outputs": ["counts"], "pid": 7, "host": "h", "seconds": 1.5})";

}  // namespace

BOOST_AUTO_TEST_SUITE(plan)

BOOST_AUTO_TEST_CASE(make_plan_cuts_names_into_contiguous_slices) {
    const auto plan = steppar::make_plan("count", {"docs"}, ten, 3);
    BOOST_TEST(plan.unit == "count");
    BOOST_TEST(plan.inputs == std::vector<std::string>{"docs"}, boost::test_tools::per_element());
    BOOST_TEST_REQUIRE(plan.slices.size() == 3u);
    BOOST_TEST(plan.slices[0] == (std::vector<std::string>{"a", "b", "c", "d"}), boost::test_tools::per_element());
    BOOST_TEST(plan.slices[1] == (std::vector<std::string>{"e", "f", "g"}), boost::test_tools::per_element());
    BOOST_TEST(plan.slices[2] == (std::vector<std::string>{"h", "i", "j"}), boost::test_tools::per_element());
    BOOST_TEST(plan.partition_count() == 10u);
}

BOOST_AUTO_TEST_CASE(make_plan_with_more_slices_than_partitions_has_empty_slices) {
    const auto plan = steppar::make_plan("count", {"docs"}, {"x", "y"}, 4);
    BOOST_TEST_REQUIRE(plan.slices.size() == 4u);
    BOOST_TEST(plan.slices[0] == std::vector<std::string>{"x"}, boost::test_tools::per_element());
    // kedro-partitioned's cut, ceil(2 * i / 4): x, -, y, -
    BOOST_TEST(plan.slices[1].empty());
    BOOST_TEST(plan.slices[2] == std::vector<std::string>{"y"}, boost::test_tools::per_element());
    BOOST_TEST(plan.slices[3].empty());
    BOOST_TEST(plan.partition_count() == 2u);
}

BOOST_AUTO_TEST_CASE(make_plan_rejects_a_slice_count_below_one) {
    BOOST_CHECK_THROW(steppar::make_plan("count", {"docs"}, ten, 0), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(plan_id_is_a_sha256_hex_digest) {
    const auto id = steppar::make_plan("count", {"docs"}, ten, 3).plan_id;
    BOOST_TEST(id.size() == 64u);
    BOOST_TEST(id.find_first_not_of("0123456789abcdef") == std::string::npos, id);
}

BOOST_AUTO_TEST_CASE(plan_id_is_stable_for_the_same_plan) {
    BOOST_TEST(steppar::make_plan("count", {"docs"}, ten, 3).plan_id ==
               steppar::make_plan("count", {"docs"}, ten, 3).plan_id);
}

BOOST_AUTO_TEST_CASE(plan_id_changes_with_the_slice_count) {
    const auto three = steppar::make_plan("count", {"docs"}, ten, 3).plan_id;
    BOOST_TEST(three != steppar::make_plan("count", {"docs"}, ten, 4).plan_id);
    BOOST_TEST(three != steppar::make_plan("count", {"docs"}, ten, 2).plan_id);
}

BOOST_AUTO_TEST_CASE(plan_id_changes_with_the_partitions) {
    const auto base = steppar::make_plan("count", {"docs"}, ten, 3).plan_id;
    auto renamed = ten;
    renamed[9] = "k";  // same count, other name
    BOOST_TEST(base != steppar::make_plan("count", {"docs"}, renamed, 3).plan_id);
    auto more = ten;
    more.push_back("k");
    BOOST_TEST(base != steppar::make_plan("count", {"docs"}, more, 3).plan_id);
    auto fewer = ten;
    fewer.pop_back();
    BOOST_TEST(base != steppar::make_plan("count", {"docs"}, fewer, 3).plan_id);
}

BOOST_AUTO_TEST_CASE(plan_id_changes_with_the_unit_and_inputs) {
    const auto base = steppar::make_plan("count", {"docs"}, ten, 3).plan_id;
    BOOST_TEST(base != steppar::make_plan("count2", {"docs"}, ten, 3).plan_id);
    BOOST_TEST(base != steppar::make_plan("count", {"docs", "other"}, ten, 3).plan_id);
}

BOOST_AUTO_TEST_CASE(plan_round_trips_through_its_index_and_parts) {
    const auto plan = steppar::make_plan("count", {"docs", "lengths"}, {"2024/05/orders", "b", "c\"quoted\\", "d\nline", "e"}, 3);
    const auto index = steppar::index_from_json(steppar::index_json(plan), "slices.json");
    BOOST_TEST(index.unit == plan.unit);
    BOOST_TEST(index.plan_id == plan.plan_id);
    BOOST_TEST(index.inputs == plan.inputs, boost::test_tools::per_element());
    BOOST_TEST((index.slice_sizes == std::vector<std::size_t>{2, 2, 1}));
    for (int i = 0; i < 3; ++i) {
        const auto part = steppar::part_from_json(steppar::part_json(plan, i), "slice.json");
        BOOST_TEST(part.unit == plan.unit);
        BOOST_TEST(part.plan_id == plan.plan_id);
        BOOST_TEST(part.slice == i);
        BOOST_TEST(part.partitions == plan.slices[static_cast<std::size_t>(i)], boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(plan_with_empty_slices_round_trips) {
    const auto plan = steppar::make_plan("count", {"docs"}, {}, 3);
    const auto index = steppar::index_from_json(steppar::index_json(plan), "slices.json");
    BOOST_TEST((index.slice_sizes == std::vector<std::size_t>{0, 0, 0}));
    BOOST_TEST(steppar::part_from_json(steppar::part_json(plan, 2), "p").partitions.empty());
}

BOOST_AUTO_TEST_CASE(plan_index_records_counts_and_format_but_no_names) {
    const auto text = steppar::index_json(steppar::make_plan("count", {"docs"}, ten, 3));
    BOOST_CHECK(contains(text, "\"format\": 3"));
    BOOST_CHECK(contains(text, "\"slice_count\": 3"));
    BOOST_CHECK(contains(text, "\"partition_count\": 10"));
    BOOST_CHECK(text.find("\"j\"") == std::string::npos);  // names live only in the parts
}

BOOST_AUTO_TEST_CASE(each_slice_reads_only_its_part_and_refuses_a_part_of_another_plan) {
    const fs::path root = fs::temp_directory_path() / ("steppar-plan-" + std::to_string(::getpid()));
    const steppar::StateLayout state(root);
    const auto plan = steppar::make_plan("count", {"docs"}, ten, 3);
    steppar::write_plan(state, plan);
    BOOST_TEST(steppar::read_plan_index(state, "count").plan_id == plan.plan_id);
    BOOST_TEST(steppar::read_slice_part(state, "count", 1).partitions == plan.slices[1], boost::test_tools::per_element());
    BOOST_CHECK(contains(error_of<steppar::UsageError>([&] { steppar::read_slice_part(state, "count", 3); }), "there is no slice 3"));
    // A part left over from another plan (say, a crash between parts and index) is refused.
    const auto other = steppar::make_plan("count", {"docs"}, {"x", "y", "z"}, 3);
    steppar::write_file_atomically(state.plan_part("count", 2), steppar::part_json(other, 2));
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::read_slice_part(state, "count", 2); }), "another plan"));
    // A part edited keeping its size (one name for another) is refused by the index's digest.
    std::string part = steppar::part_json(plan, 1);
    part.replace(part.find("\"e\""), 3, "\"q\"");
    steppar::write_file_atomically(state.plan_part("count", 1), part);
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::read_slice_part(state, "count", 1); }), "is damaged"));
    fs::remove(state.plan_part("count", 0));
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::read_slice_part(state, "count", 0); }), "missing"));
    // A shorter plan replaces every part of the longer one.
    steppar::write_plan(state, steppar::make_plan("count", {"docs"}, ten, 2));
    BOOST_TEST(!fs::exists(state.plan_part("count", 2)));
    fs::remove_all(root);
}

// slice_holding() streams the parts to find the one slice holding a partition, with the checks
// of read_slice_part(): a part of several buffers' worth, names with escapes, empty slices.
BOOST_AUTO_TEST_CASE(slice_holding_finds_the_slice_of_a_partition) {
    steppar_test::TempDir dir;
    const steppar::StateLayout state(dir.path());
    std::vector<std::string> names;
    for (int i = 0; i < 30000; ++i) names.push_back("p" + std::to_string(100000 + i));  // ~300 KB a part
    for (const char* odd : {"q\"quoted\"", "q\\back\\slash", "q\ttab\nline", "q,", "q,\"x", "r\x01"}) names.emplace_back(odd);
    std::sort(names.begin(), names.end());
    auto plan = steppar::make_plan("count", {"docs"}, names, 3);
    plan.slices.insert(plan.slices.begin() + 1, std::vector<std::string>{});  // an empty slice is never read
    plan.plan_id = steppar::plan_identity(plan);
    steppar::write_plan(state, plan);
    const auto index = steppar::read_plan_index(state, "count");
    for (std::size_t s = 0; s < plan.slices.size(); ++s) {
        const auto& part = plan.slices[s];
        if (part.empty()) continue;
        for (const std::string& name : {part.front(), part[part.size() / 2], part.back()})
            BOOST_TEST(steppar::slice_holding(state, "count", index, name) == static_cast<int>(s), name);
    }
    for (const char* odd : {"q\"quoted\"", "q\\back\\slash", "q\ttab\nline", "q,", "q,\"x", "r\x01"}) {
        const auto at = std::find_if(plan.slices.begin(), plan.slices.end(), [&](const auto& part) {
            return std::find(part.begin(), part.end(), odd) != part.end();
        });
        BOOST_TEST(steppar::slice_holding(state, "count", index, odd) == static_cast<int>(at - plan.slices.begin()), odd);
    }
    for (const char* absent : {"", "p", "p1000000", "p10000", "q", "quoted", "\"p100000\"", "p100000,", "x"})
        BOOST_TEST(steppar::slice_holding(state, "count", index, absent) == -1, absent);
}

// A part tampered with, even keeping its size, is refused by the same check (and message) as
// read_slice_part's; a missing one too; one of another layout that the index vouches for is
// read whole instead, with the same answer.
BOOST_AUTO_TEST_CASE(slice_holding_refuses_a_tampered_part_as_read_slice_part_does) {
    steppar_test::TempDir dir;
    const steppar::StateLayout state(dir.path());
    const auto plan = steppar::make_plan("count", {"docs"}, ten, 3);
    steppar::write_plan(state, plan);
    const auto index = steppar::read_plan_index(state, "count");
    BOOST_TEST(steppar::slice_holding(state, "count", index, "e") == 1);
    std::string part = steppar::part_json(plan, 0);
    part.replace(part.find("\"b\""), 3, "\"e\"");  // slice 0 would now seem to hold "e" first
    steppar::write_file_atomically(state.plan_part("count", 0), part);
    const auto full = error_of<steppar::StateError>([&] { steppar::read_slice_part(state, "count", 0); });
    BOOST_CHECK(contains(full, "is damaged"));
    BOOST_TEST(error_of<steppar::StateError>([&] { steppar::slice_holding(state, "count", index, "e"); }) == full);
    fs::remove(state.plan_part("count", 0));
    BOOST_TEST(error_of<steppar::StateError>([&] { steppar::slice_holding(state, "count", index, "e"); }) ==
               error_of<steppar::StateError>([&] { steppar::read_slice_part(state, "count", 0); }));

    // Another writer's spacing, vouched for by its index: the full read decides.
    const std::string spaced = R"({"unit": "count", "format": 3, "slice": 0, "plan_id": "abc", "partitions": ["a", "b"]})";
    steppar::write_file_atomically(state.plan_part("count", 0), spaced);
    const std::string other_index = steppar::sealed_json(
        R"({"format": 3, "unit": "count", "plan_id": "abc", "generation": 4, "definition": "d",)"
        R"( "summary": {"new": 2, "changed": 0, "up_to_date": 0, "retracted": 0}, "inputs": ["docs"], "slice_count": 1,)"
        R"( "partition_count": 2, "slices": [{"slice": 0, "partitions": 2, "digest": ")" + steppar::sha256_hex(spaced) + R"("}]})");
    const auto vouched = steppar::index_from_json(other_index, "i");
    BOOST_TEST(steppar::slice_holding(state, "count", vouched, "b") == 0);
    BOOST_TEST(steppar::slice_holding(state, "count", vouched, "c") == -1);
}

BOOST_AUTO_TEST_CASE(handwritten_plan_index_is_read) {
    const auto index = steppar::index_from_json(sealed_plan_text(), "origin");
    BOOST_TEST(index.unit == "count");
    BOOST_TEST(index.plan_id == "abc123");
    BOOST_TEST((index.slice_sizes == std::vector<std::size_t>{2, 1}));
}

BOOST_AUTO_TEST_CASE(corrupt_plan_json_is_a_state_error_naming_the_origin) {
    for (const char* text : {"{\"format\": 2, \"unit\": ", ""}) {
        const auto index = error_of<steppar::StateError>([&] { steppar::index_from_json(text, "/state/units/count/slices.json"); });
        BOOST_CHECK(contains(index, "/state/units/count/slices.json"));
        BOOST_CHECK(contains(index, "corrupt"));
        const auto part = error_of<steppar::StateError>([&] { steppar::part_from_json(text, "/state/slice-0.json"); });
        BOOST_CHECK(contains(part, "/state/slice-0.json"));
    }
}

BOOST_AUTO_TEST_CASE(plan_of_another_format_is_a_state_error_naming_the_origin) {
    const auto message = error_of<steppar::StateError>([] { steppar::index_from_json(sealed_plan_text("1"), "plan-origin"); });
    BOOST_CHECK(contains(message, "plan-origin"));
    BOOST_CHECK(contains(message, "format"));
}

BOOST_AUTO_TEST_CASE(plan_missing_a_field_is_a_state_error_naming_the_origin) {
    const std::string without_id =
        R"({"format": 3, "unit": "count", "inputs": ["docs"], "slice_count": 1, "slices": [{"slice": 0, "partitions": 0}]})";
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::index_from_json(without_id, "no-id"); }), "no-id"));
    const std::string without_slices = R"({"format": 3, "unit": "count", "plan_id": "x", "inputs": [], "slice_count": 1})";
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::index_from_json(without_slices, "no-slices"); }),
                         "no-slices"));
    const std::string part_without_names = R"({"format": 3, "unit": "count", "plan_id": "x", "slice": 0})";
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::part_from_json(part_without_names, "no-names"); }),
                         "no-names"));
}

BOOST_AUTO_TEST_CASE(plan_with_a_field_of_the_wrong_type_is_a_state_error) {
    const std::string text =
        R"({"format": 3, "unit": 5, "plan_id": "x", "inputs": [], "slice_count": 0, "slices": []})";
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::index_from_json(text, "typed"); }), "typed"));
}

BOOST_AUTO_TEST_CASE(plan_whose_slice_count_disagrees_with_its_slices_is_a_state_error) {
    const auto message = error_of<steppar::StateError>([] { steppar::index_from_json(sealed_plan_text("3", "", "3"), "count-origin"); });
    BOOST_CHECK(contains(message, "count-origin"));
    BOOST_CHECK(contains(message, "slice_count"));
}

BOOST_AUTO_TEST_CASE(plan_with_slices_out_of_order_is_a_state_error) {
    const auto message = error_of<steppar::StateError>([] { steppar::index_from_json(sealed_plan_text("3", "", "2", "5"), "order-origin"); });
    BOOST_CHECK(contains(message, "order-origin"));
    BOOST_CHECK(contains(message, "out of order"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(marker)

BOOST_AUTO_TEST_CASE(success_marker_round_trips_through_json) {
    const auto m = success_marker();
    check_same(steppar::marker_from_json(steppar::to_json(m), "slice-3.json"), m);
}

BOOST_AUTO_TEST_CASE(failed_marker_round_trips_through_json_with_its_error) {
    const auto m = failed_marker();
    const auto back = steppar::marker_from_json(steppar::to_json(m), "slice-3.json");
    check_same(back, m);
    BOOST_TEST(!back.success);
    BOOST_TEST(back.failed_partition == "b");
}

BOOST_AUTO_TEST_CASE(failed_marker_before_any_partition_round_trips) {
    auto m = failed_marker();
    m.failed_partition = "";
    m.partitions = 0;
    check_same(steppar::marker_from_json(steppar::to_json(m), "x"), m);
}

BOOST_AUTO_TEST_CASE(marker_json_says_success_or_failed) {
    const auto ok = steppar::to_json(success_marker());
    BOOST_CHECK(contains(ok, "\"status\": \"success\""));
    BOOST_TEST(ok.find("\"error\"") == std::string::npos, ok);
    const auto failed = steppar::to_json(failed_marker());
    BOOST_CHECK(contains(failed, "\"status\": \"failed\""));
    BOOST_CHECK(contains(failed, "\"error\""));
}

BOOST_AUTO_TEST_CASE(handwritten_marker_is_read) {
    const auto m = steppar::marker_from_json(steppar::sealed_json(marker_success_text), "origin");
    BOOST_TEST(m.success);
    BOOST_TEST(m.pid == 7);
    BOOST_TEST(m.seconds == 1.5);
    BOOST_TEST(m.partitions == 1u);
    BOOST_TEST(m.generation == 3u);
}

BOOST_AUTO_TEST_CASE(corrupt_marker_json_is_a_state_error_naming_the_origin) {
    const auto message =
        error_of<steppar::StateError>([] { steppar::marker_from_json("{\"format\": 2,,}", "/state/markers/slice-2.json"); });
    BOOST_CHECK(contains(message, "/state/markers/slice-2.json"));
    BOOST_CHECK(contains(message, "corrupt"));
}

BOOST_AUTO_TEST_CASE(truncated_marker_is_a_state_error) {
    const std::string half = marker_success_text.substr(0, marker_success_text.size() / 2);
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::marker_from_json(half, "half.json"); }), "half.json"));
}

BOOST_AUTO_TEST_CASE(marker_of_another_format_is_a_state_error_naming_the_origin) {
    std::string text = marker_success_text;
    text.replace(text.find("\"format\": 2"), 11, "\"format\": 7");
    const auto message = error_of<steppar::StateError>([&] { steppar::marker_from_json(steppar::sealed_json(text), "fmt-origin"); });
    BOOST_CHECK(contains(message, "fmt-origin"));
    BOOST_CHECK(contains(message, "format"));
}

BOOST_AUTO_TEST_CASE(marker_missing_a_field_is_a_state_error_naming_the_origin) {
    std::string text = marker_success_text;
    text.replace(text.find("\"plan_id\": \"p\", "), 15, "");
    BOOST_TEST_REQUIRE(text.find("plan_id") == std::string::npos);
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::marker_from_json(steppar::sealed_json(text), "no-plan"); }), "no-plan"));
}

BOOST_AUTO_TEST_CASE(marker_with_an_unknown_status_is_a_state_error) {
    std::string text = marker_success_text;
    text.replace(text.find("\"success\""), 9, "\"done\"");
    const auto message = error_of<steppar::StateError>([&] { steppar::marker_from_json(steppar::sealed_json(text), "status-origin"); });
    BOOST_CHECK(contains(message, "status-origin"));
    BOOST_CHECK(contains(message, "done"));
}

BOOST_AUTO_TEST_CASE(failed_marker_without_its_error_is_a_state_error) {
    std::string text = marker_success_text;
    text.replace(text.find("\"success\""), 9, "\"failed\"");
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::marker_from_json(steppar::sealed_json(text), "no-error"); }), "no-error"));
}

// Sealed files: an edit that keeps the size (a digit changed, a name swapped) is refused, and
// so is a file without its seal.
BOOST_AUTO_TEST_CASE(a_marker_or_plan_edited_keeping_its_size_is_refused_as_damaged) {
    std::string marker = steppar::to_json(success_marker());
    marker.replace(marker.find("\"pid\": 4242"), 11, "\"pid\": 4243");
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::marker_from_json(marker, "m"); }), "'m' is damaged"));
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::marker_from_json(marker_success_text, "raw"); }), "has no checksum"));
    std::string index = steppar::index_json(steppar::make_plan("count", {"docs"}, ten, 3));
    index.replace(index.find("\"slice_count\": 3"), 16, "\"slice_count\": 4");
    BOOST_TEST_REQUIRE(index.find("\"slice_count\": 4") != std::string::npos);
    BOOST_CHECK(contains(error_of<steppar::StateError>([&] { steppar::index_from_json(index, "i"); }), "is damaged"));
}

BOOST_AUTO_TEST_CASE(state_errors_exit_with_code_one) {
    try {
        steppar::marker_from_json("nope", "x");
        BOOST_ERROR("no exception");
    } catch (const steppar::Error& e) {
        BOOST_TEST(e.exit_code() == 1);
    }
}

BOOST_AUTO_TEST_SUITE_END()

namespace steppar {
std::ostream& operator<<(std::ostream& out, MarkerVerdict verdict) { return out << to_string(verdict); }
}  // namespace steppar

// Vouching (vouching.hpp): one rule, asked by every runner, the barrier, the Slurm runner and
// status. Only a success marker of the same unit, slice and plan vouches for a step.
BOOST_AUTO_TEST_SUITE(vouching)

BOOST_AUTO_TEST_CASE(only_a_success_marker_of_the_same_unit_slice_and_plan_vouches) {
    using steppar::MarkerVerdict;
    const steppar::StepIdentity step{"count", 3, "0f1e2d"};
    BOOST_TEST(steppar::marker_vouches(success_marker(), step));
    BOOST_TEST(steppar::judge_marker(success_marker(), {"lengths", 3, "0f1e2d"}) == MarkerVerdict::foreign);  // another unit
    BOOST_TEST(steppar::judge_marker(success_marker(), {"count", 2, "0f1e2d"}) == MarkerVerdict::foreign);    // another slice
    BOOST_TEST(steppar::judge_marker(success_marker(), {"count", 3, "ffff"}) == MarkerVerdict::foreign);      // another plan
    BOOST_TEST(steppar::judge_marker(success_marker(), {"count", -1, ""}) == MarkerVerdict::foreign);         // a whole node's
    BOOST_TEST(steppar::judge_marker(failed_marker(), step) == MarkerVerdict::failed);
    BOOST_TEST(steppar::judge_marker(failed_marker(), {"count", 2, "0f1e2d"}) == MarkerVerdict::foreign);  // not this step's failure
}

// From the state folder: missing, damaged, foreign, failed and vouching markers; needs_run()
// runs a slice unless its own marker vouches, never an empty one, always a forced one.
BOOST_AUTO_TEST_CASE(read_step_marker_and_needs_run_agree_with_the_rule) {
    using steppar::MarkerVerdict;
    steppar_test::TempDir dir;
    const steppar::StateLayout state(dir.path());
    fs::create_directories(state.markers_dir("count"));
    steppar::Unit unit;
    unit.name = "count";
    const steppar::SlicePart part{"count", "0f1e2d", 3, {"a", "b"}};
    const steppar::StepIdentity step{"count", 3, "0f1e2d"};

    BOOST_TEST(steppar::read_step_marker(state, step).verdict == MarkerVerdict::missing);
    BOOST_TEST(steppar::needs_run(state, unit, part, false));

    steppar::write_marker(state.marker("count", 3), success_marker());
    BOOST_TEST(steppar::read_step_marker(state, step).vouches());
    BOOST_TEST(!steppar::needs_run(state, unit, part, false));
    BOOST_TEST(steppar::needs_run(state, unit, part, true));  // --force
    BOOST_TEST(!steppar::needs_run(state, unit, {"count", "0f1e2d", 3, {}}, true));  // nothing to run

    auto other = success_marker();
    for (auto change : {+[](steppar::Marker& m) { m.unit = "lengths"; }, +[](steppar::Marker& m) { m.slice = 2; },
                        +[](steppar::Marker& m) { m.plan_id = "old"; }}) {
        auto m = success_marker();
        change(m);
        steppar::write_marker(state.marker("count", 3), m);
        BOOST_TEST(steppar::read_step_marker(state, step).verdict == MarkerVerdict::foreign);
        BOOST_TEST(steppar::needs_run(state, unit, part, false));
    }
    steppar::write_marker(state.marker("count", 3), failed_marker());
    const auto failed = steppar::read_step_marker(state, step);
    BOOST_TEST(failed.verdict == MarkerVerdict::failed);
    BOOST_TEST(failed.failure() == " failed on partition 'b': word_count: \"b\" is not UTF-8\nsecond line");
    BOOST_TEST(!failed.vouches());
    BOOST_TEST(failed.ended());
    BOOST_TEST(steppar::needs_run(state, unit, part, false));

    std::string text = steppar::to_json(success_marker());
    text.replace(text.find("\"pid\": 4242"), 11, "\"pid\": 4243");
    steppar::write_file_atomically(state.marker("count", 3), text);
    const auto damaged = steppar::read_step_marker(state, step);
    BOOST_TEST(damaged.verdict == MarkerVerdict::damaged);
    BOOST_TEST(contains(damaged.damage, "slice-3.json"));
    BOOST_TEST(steppar::needs_run(state, unit, part, false));
}

BOOST_AUTO_TEST_SUITE_END()
