/* core/version.h - the version faultline reports (report.json, --version,
 * the proxy's control API). One definition, readable from every room. */
#ifndef CORE_VERSION_H
#define CORE_VERSION_H

#define FAULTLINE_VERSION "0.1.0"

#endif
