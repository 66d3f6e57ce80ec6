# Writes a file's bytes as a C array, so that the policy schema is part of the library
# and never read from disk at run time. Called with -DINPUT=... -DOUTPUT=... -DSYMBOL=...
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR byte_count "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUTPUT}
  "/* Generated from ${INPUT} by policy_embed.cmake; do not edit. */\n"
  "#include <stddef.h>\n"
  "extern const unsigned char ${SYMBOL}[];\n"
  "extern const size_t ${SYMBOL}_len;\n"
  "const unsigned char ${SYMBOL}[] = {\n${bytes}0x00 };\n"
  "const size_t ${SYMBOL}_len = ${byte_count};\n")
