#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tokenscope {

class SentencePieceTokenizer;

// The conversation templates of the llava-hf LLaVA-NeXT checkpoints, with one image.
//   Vicuna  (llava-hf/llava-v1.6-vicuna-7b-hf, the original LLaVA "vicuna_v1" template with its
//           system sentence):
//           "A chat between a curious human and an artificial intelligence assistant. The assistant
//            gives helpful, detailed, and polite answers to the human's questions. USER: <image>\n
//            {question} ASSISTANT:"
//   Mistral (llava-hf/llava-v1.6-mistral-7b-hf): "[INST] <image>\n{question} [/INST]"
//   Raw     the question as given; "<image>\n" is put in front when it holds no "<image>".
// BOS is not part of the text: encodeLlavaPrompt adds it, as the tokenizer does in transformers.
enum class LlavaPromptTemplate { Vicuna, Mistral, Raw };

// The template of a model folder, from its config.json: text_config.model_type "mistral" (or a
// text_config.architectures entry starting with "Mistral") -> Mistral; "llama" -> Vicuna. Without a
// text_config (or with another model_type) the folder's name decides: "mistral" in it -> Mistral,
// "vicuna" or "llava" -> Vicuna, else Raw. Throws Error naming config.json when it exists but is not
// valid JSON; a folder without config.json is decided by its name.
LlavaPromptTemplate llavaTemplateForFolder(const std::string& folder);
// "vicuna" | "mistral" | "raw" (case-insensitive) -> template; throws Error naming the word otherwise.
LlavaPromptTemplate llavaTemplateFromName(const std::string& name);
const char* llavaTemplateName(LlavaPromptTemplate t);

// The prompt text of a template around a question. The question is inserted as given (a question that
// already contains "<image>" gets a second one from Vicuna/Mistral, which encodeLlavaPrompt refuses).
std::string formatLlavaPrompt(LlavaPromptTemplate t, const std::string& question);

// The prompt's input ids: BOS (when the tokenizer has one), then the text encoded as transformers'
// LlavaNextProcessor + LlamaTokenizer(Fast) v4.45 do it, with the single "<image>" replaced by
// imageTokens copies of imageTokenId (imageTokens < 0: one copy, the legacy format that the model
// expands itself). What that means in detail:
//   - the processor replaces the prompt's "<image>" by N "<image>" strings before tokenizing; each is
//     an added special token (lstrip/rstrip false), matched whole, so no text piece spans it and the
//     spaces around it stay with the neighbouring text: "USER: " ends in the piece "▁" (LLaMA's
//     tokenizer does not remove extra whitespace);
//   - the text after the image starts a new SentencePiece call and, with the legacy tokenizers of the
//     llava-hf folders, gets its own dummy prefix: "<image>\nWhat" -> <image> "▁" <0x0A> "What";
//     a non-legacy tokenizer (tokenizer.isLegacy() false) drops that "▁";
//   - equivalent for the ids: splitting the prompt at "<image>", encoding each non-empty side, and
//     inserting N image ids, which is also how the original LLaVA's tokenizer_image_token builds them.
// The image id need not be the tokenizer's own "<image>" token: the prompt's "<image>" is always the
// split point. Throws Error when the prompt does not contain exactly one "<image>".
std::vector<std::int64_t> encodeLlavaPrompt(const SentencePieceTokenizer& tok, const std::string& prompt,
                                            std::int64_t imageTokenId, std::int64_t imageTokens);

}  // namespace tokenscope
