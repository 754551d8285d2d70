#include "sealed_json.hpp"

#include "canonical_json.hpp"
#include "steppar/error.hpp"
#include "steppar/hash.hpp"
#include "steppar/sealed.hpp"

namespace steppar {
namespace {

std::string checksum_of(const nlohmann::json& object) {
    std::string bytes;
    append_canonical(bytes, object);
    return sha256_hex(bytes);
}

// How files sealed before the canonical encoding were checksummed: nlohmann's compact dump().
// Still accepted on reading so that an upgrade does not call every marker and plan damaged; never
// written. (If a future nlohmann dumped differently, such an old file would read as damaged: it
// is then made again, as any damaged one.)
bool sealed_the_old_way(const nlohmann::json& object, const std::string& recorded) {
    try {
        return sha256_hex(object.dump()) == recorded;
    } catch (const nlohmann::json::exception&) {
        return false;
    }
}

}  // namespace

std::string seal(nlohmann::json object) {
    object.erase("checksum");
    // The checksum is of what a reader will parse: JSON text has no NaN or infinity, which the
    // file holds as null (a marker's seconds or metrics could be one).
    object = nlohmann::json::parse(object.dump());
    object["checksum"] = checksum_of(object);  // computed before the field exists
    return object.dump(1) + "\n";
}

void unseal(nlohmann::json& object, const std::string& what, const std::string& origin, const std::string& repair) {
    if (!object.is_object() || !object.contains("checksum") || !object["checksum"].is_string())
        throw StateError(what + " '" + origin + "' has no checksum; " + repair);
    const std::string recorded = object["checksum"].get<std::string>();
    object.erase("checksum");
    if (checksum_of(object) != recorded && !sealed_the_old_way(object, recorded))
        throw StateError(what + " '" + origin + "' is damaged (its content does not match its checksum); " + repair);
}

std::string sealed_json(std::string_view text) {
    try {
        auto object = nlohmann::json::parse(text);
        if (!object.is_object()) throw StateError("sealed_json: not a JSON object");
        return seal(std::move(object));
    } catch (const nlohmann::json::exception& e) {
        throw StateError(std::string("sealed_json: ") + e.what());
    }
}

}  // namespace steppar
