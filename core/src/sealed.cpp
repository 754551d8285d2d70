#include "sealed_json.hpp"

#include "steppar/error.hpp"
#include "steppar/hash.hpp"
#include "steppar/sealed.hpp"

namespace steppar {

std::string seal(nlohmann::json object) {
    object.erase("checksum");
    object["checksum"] = sha256_hex(object.dump());  // computed before the field exists
    return object.dump(1) + "\n";
}

void unseal(nlohmann::json& object, const std::string& what, const std::string& origin, const std::string& repair) {
    if (!object.is_object() || !object.contains("checksum") || !object["checksum"].is_string())
        throw StateError(what + " '" + origin + "' has no checksum; " + repair);
    const std::string recorded = object["checksum"].get<std::string>();
    object.erase("checksum");
    if (sha256_hex(object.dump()) != recorded)
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
