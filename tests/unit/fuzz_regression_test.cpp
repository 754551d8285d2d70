// Replays every input a fuzzer once found (tests/fuzz-regressions/) and the fuzz seed corpora
// through the same calls as the fuzz targets: only the documented error type may come out.
#include <steppar/error.hpp>
#include <steppar/marker.hpp>
#include <steppar/plan.hpp>
#include <steppar/spec.hpp>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace {
std::vector<std::pair<std::string, std::string>> inputs(const std::vector<std::string>& folders) {
    std::vector<std::pair<std::string, std::string>> found;
    for (const auto& folder : folders) {
        const fs::path dir = fs::path(STEPPAR_SOURCE_DIR) / folder;
        if (!fs::is_directory(dir)) continue;
        for (const auto& entry : fs::directory_iterator(dir)) {
            std::ifstream in(entry.path(), std::ios::binary);
            std::ostringstream text;
            text << in.rdbuf();
            found.emplace_back(entry.path().filename().string(), text.str());
        }
    }
    return found;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(fuzz_regressions)

BOOST_AUTO_TEST_CASE(pipeline_parser_only_ever_throws_spec_errors) {
    const auto cases = inputs({"tests/fuzz-regressions/spec", "fuzz/corpus/spec"});
    BOOST_TEST(cases.size() >= 3u);
    for (const auto& [name, text] : cases)
        for (const char* file : {"/fuzz/pipeline.yml", "/fuzz/pipeline.json"}) {
            try {
                (void)steppar::parse_pipeline_text(text, file, "/fuzz/.steppar/data");
            } catch (const steppar::SpecError&) {
            } catch (const std::exception& e) {
                BOOST_ERROR(name << " as " << file << ": unexpected " << typeid(e).name() << ": " << e.what());
            }
        }
}

BOOST_AUTO_TEST_CASE(plan_and_marker_readers_only_ever_throw_state_errors) {
    const auto cases = inputs({"tests/fuzz-regressions/state", "fuzz/corpus/state"});
    BOOST_TEST(cases.size() >= 2u);
    for (const auto& [name, text] : cases) {
        try {
            (void)steppar::index_from_json(text, name);
        } catch (const steppar::StateError&) {
        } catch (const std::exception& e) {
            BOOST_ERROR(name << " as plan index: unexpected " << e.what());
        }
        try {
            (void)steppar::part_from_json(text, name);
        } catch (const steppar::StateError&) {
        } catch (const std::exception& e) {
            BOOST_ERROR(name << " as plan part: unexpected " << e.what());
        }
        try {
            (void)steppar::marker_from_json(text, name);
        } catch (const steppar::StateError&) {
        } catch (const std::exception& e) {
            BOOST_ERROR(name << " as marker: unexpected " << e.what());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
