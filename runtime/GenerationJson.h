//===- GenerationJson.h - Generation options from parsed JSON ---*- C++ -*-===//
//
// Internal to the runtime and its tools (nlohmann/json stays out of the
// public headers): the reader of GenerationOptions.h over JSON values that a
// caller has parsed already, a manifest, a batch line or a request body.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_GENERATIONJSON_H
#define DGC_RUNTIME_GENERATIONJSON_H

#include "dgc/runtime/GenerationOptions.h"

#include <nlohmann/json.hpp>

namespace dgc::runtime {

/// readGenerationConfig over a parsed document (an object, else an error).
Status readGenerationJson(const nlohmann::json &doc, const std::string &path,
                          GenerationOverrides &out);

/// A module's options: the object `section` (manifest.json's
/// model.generation), keyed by each field's `name`; errors start with
/// `where` ("model.generation") and name the key.
Status readModuleGeneration(const nlohmann::json &section,
                            const std::string &where, GenerationOverrides &out);

/// One value of `field`, checked against its kind and range; null sets
/// nothing. Errors start with `where` (the key, or a path ending with it).
Status readGenerationValue(const GenerationField &field,
                           const nlohmann::json &value,
                           const std::string &where, GenerationOverrides &out);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_GENERATIONJSON_H
