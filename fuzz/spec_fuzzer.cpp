// libFuzzer target: the pipeline-file parser. Any input may be rejected, but only with a
// SpecError (one clear line); any other exception, crash or sanitizer report is a bug.
#include <steppar/error.hpp>
#include <steppar/spec.hpp>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    for (const char* name : {"/fuzz/pipeline.yml", "/fuzz/pipeline.json"}) {
        try {
            (void)steppar::parse_pipeline_text(text, name, "/fuzz/.steppar/data");
        } catch (const steppar::SpecError&) {
        }
    }
    return 0;
}
