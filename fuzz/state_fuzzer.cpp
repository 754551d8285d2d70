// libFuzzer target: the readers of the slice plan and the marker. Corrupt state may be
// rejected, but only with a StateError naming the file.
#include <steppar/error.hpp>
#include <steppar/marker.hpp>
#include <steppar/plan.hpp>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        (void)steppar::index_from_json(text, "fuzz-plan");
    } catch (const steppar::StateError&) {
    }
    try {
        (void)steppar::part_from_json(text, "fuzz-plan-part");
    } catch (const steppar::StateError&) {
    }
    try {
        (void)steppar::marker_from_json(text, "fuzz-marker");
    } catch (const steppar::StateError&) {
    }
    return 0;
}
