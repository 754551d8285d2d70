#include "steppar/linked_libraries.hpp"

#include "steppar/files.hpp"

#include <algorithm>
#include <dlfcn.h>
#include <link.h>
#include <map>
#include <set>
#include <string>

namespace steppar {
namespace {

// The DT_NEEDED names and the DT_SONAME of one loaded object, read from its dynamic section.
// glibc relocates the string table's address there, except in read-only dynamic sections (the
// vDSO's, say), which hold it relative to the load address.
struct DynamicNames {
    std::vector<std::string> needed;
    std::string soname;
};

DynamicNames names_in(const link_map* object) {
    DynamicNames names;
    const ElfW(Dyn)* dynamic = object->l_ld;
    if (!dynamic) return names;
    const char* strings = nullptr;
    for (const ElfW(Dyn)* d = dynamic; d->d_tag != DT_NULL; ++d)
        if (d->d_tag == DT_STRTAB) {
            ElfW(Addr) address = d->d_un.d_ptr;
            if (address < object->l_addr) address += object->l_addr;
            strings = reinterpret_cast<const char*>(address);
        }
    if (!strings) return names;
    for (const ElfW(Dyn)* d = dynamic; d->d_tag != DT_NULL; ++d) {
        if (d->d_tag == DT_NEEDED) names.needed.emplace_back(strings + d->d_un.d_val);
        if (d->d_tag == DT_SONAME) names.soname = strings + d->d_un.d_val;
    }
    return names;
}

}  // namespace

bool in_system_library_folder(const std::filesystem::path& file) {
    for (const char* folder : {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/"})
        if (file.string().rfind(folder, 0) == 0) return true;
    return false;
}

std::vector<std::filesystem::path> project_libraries_of(void* handle) {
    link_map* self = nullptr;
    if (!handle || ::dlinfo(handle, RTLD_DI_LINKMAP, &self) != 0 || !self) return {};
    // Every object of the namespace, found by the names a DT_NEEDED entry may use: its soname
    // and its file's name.
    link_map* head = self;
    while (head->l_prev) head = head->l_prev;
    std::map<std::string, const link_map*> by_name;
    for (const link_map* object = head; object; object = object->l_next) {
        if (!object->l_name || !*object->l_name) continue;  // the program itself
        const DynamicNames names = names_in(object);
        if (!names.soname.empty()) by_name.emplace(names.soname, object);
        by_name.emplace(std::filesystem::path(object->l_name).filename().string(), object);
    }
    std::set<const link_map*> seen{self};
    std::vector<const link_map*> todo{self};
    std::set<std::filesystem::path> files;
    while (!todo.empty()) {
        const link_map* object = todo.back();
        todo.pop_back();
        for (const auto& needed : names_in(object).needed) {
            const auto it = by_name.find(needed);
            if (it == by_name.end() || !seen.insert(it->second).second) continue;
            const std::filesystem::path file = resolved_path(it->second->l_name);
            if (in_system_library_folder(file)) continue;  // nor what it needs: the system's too
            files.insert(file);
            todo.push_back(it->second);
        }
    }
    return {files.begin(), files.end()};
}

}  // namespace steppar
