/*
 * The officially assigned ISO 3166-1 alpha-2 country codes. The configuration, policy
 * bundles, policy decision requests and the country claims that the node signs accept
 * only these codes.
 */
#ifndef IDSVC_ISO3166_H
#define IDSVC_ISO3166_H

#include <stdbool.h>

/* Returns true when code is an officially assigned ISO 3166-1 alpha-2 code in capital
 * letters, such as GB, and false for any other text, such as gb, UK (exceptionally
 * reserved), XX (user-assigned) or NULL. */
bool iso3166_is_assigned(const char *code);

#endif
