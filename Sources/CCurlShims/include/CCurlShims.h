#ifndef MILLWRIGHT_CCURLSHIMS_H
#define MILLWRIGHT_CCURLSHIMS_H
#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call:
   these typed wrappers are the only way Swift code sets options or reads info. */
CURLcode mw_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode mw_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode mw_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode mw_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode mw_curl_setopt_write_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode mw_curl_setopt_header_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode mw_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
#endif
