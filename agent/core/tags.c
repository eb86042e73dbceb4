/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <stdio.h>

#include "sovd/json-util.h"
#include "sovd/names.h"
#include "sovd/tags.h"
#include "sovd/time-util.h"

/* ISO 3166-1 alpha-2, officially assigned codes (249). */
static const char iso3166_alpha2[] =
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS "
        "BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE "
        "EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM "
        "HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC "
        "LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA "
        "NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
        "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
        "TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/* Certification schemes sovd knows by name; others are accepted and reported. */
static const char *const known_certifications[] = {
        "secnumcloud", "hds", "iso27001", "iso27017", "iso27018", "iso27701", "c5", "ens",
        "eucs",        "soc2", "pci-dss", "tisax",   "csa-star", "bsi-c5",   NULL,
};

bool country_code_is_valid(const char *s) {
        if (strlen(s) != 2 || !isupper((unsigned char) s[0]) || !isupper((unsigned char) s[1]))
                return false;
        /* Codes are two letters every three bytes; the last one ends the string. */
        for (size_t i = 0; i + 2 <= sizeof(iso3166_alpha2) - 1; i += 3)
                if (iso3166_alpha2[i] == s[0] && iso3166_alpha2[i + 1] == s[1])
                        return true;
        return false;
}

bool region_code_is_valid(const char *s) {
        size_t n = strlen(s);
        char cc[3];

        if (n < 4 || n > 6 || s[2] != '-')
                return false;
        cc[0] = s[0];
        cc[1] = s[1];
        cc[2] = '\0';
        if (!country_code_is_valid(cc))
                return false;
        for (size_t i = 3; i < n; i++)
                if (!isupper((unsigned char) s[i]) && !isdigit((unsigned char) s[i]))
                        return false;
        return true;
}

bool certification_name_is_known(const char *name) {
        for (const char *const *k = known_certifications; *k; k++)
                if (streq(*k, name))
                        return true;
        return false;
}

static bool version_is_valid(const char *v) {
        bool digit = false;

        if (!*v)
                return false;
        for (const char *p = v; *p; p++) {
                if (isdigit((unsigned char) *p))
                        digit = true;
                else if (*p == '.' && digit)
                        digit = false;
                else
                        return false;
        }
        return digit;
}

/* Components compare numerically; missing ones count as 0 (3.2 == 3.2.0); anything else stops the walk. */
int version_compare(const char *a, const char *b) {
        while (*a || *b) {
                char *ea, *eb;
                unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);
                if (x != y)
                        return x < y ? -1 : 1;
                if (ea == a && eb == b)
                        return strcmp(a, b) < 0 ? -1 : strcmp(a, b) > 0;
                a = *ea == '.' ? ea + 1 : ea;
                b = *eb == '.' ? eb + 1 : eb;
        }
        return 0;
}

static bool cert_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 63 || !(islower((unsigned char) s[0]) || isdigit((unsigned char) s[0])))
                return false;
        for (const char *p = s; *p; p++)
                if (!(islower((unsigned char) *p) || isdigit((unsigned char) *p) || *p == '-' || *p == '_' || *p == '.'))
                        return false;
        return true;
}

/* "name", "name:version" or {"name", "version", "valid_until": "YYYY-MM-DD"}. */
static int parse_certification(struct json_object *o, const char *where, size_t i, struct certification *c,
                               struct sovd_err *err) {
        const char *name = NULL, *version = NULL, *until = NULL;
        char ctx[160];
        _cleanup_free_ char *copy = NULL;

        snprintf(ctx, sizeof(ctx), "%s.certifications[%zu]", where, i);
        if (json_object_is_type(o, json_type_string)) {
                copy = strdup(json_object_get_string(o));
                if (!copy)
                        return -ENOMEM;
                char *colon = strchr(copy, ':');
                if (colon) {
                        *colon = '\0';
                        version = colon + 1;
                }
                name = copy;
        } else if (json_object_is_type(o, json_type_object)) {
                static const char *const keys[] = { "name", "version", "valid_until", NULL };
                int r;
                if ((r = json_check_members(o, keys, ctx, err)) < 0 ||
                    (r = json_get_string(o, "name", ctx, true, &name, err)) < 0 ||
                    (r = json_get_string(o, "version", ctx, false, &version, err)) < 0 ||
                    (r = json_get_string(o, "valid_until", ctx, false, &until, err)) < 0)
                        return r;
        } else
                return err_set(err, -EINVAL, "%s: must be a string (\"name\" or \"name:version\") or an object", ctx);

        if (!cert_name_is_valid(name))
                return err_set(err, -EINVAL, "%s: '%.64s' is not a certification name (a-z 0-9 - _ .)", ctx, name);
        if (version && !version_is_valid(version))
                return err_set(err, -EINVAL, "%s: version '%.32s' must be dotted numbers (3.2)", ctx, version);
        if (until) {
                char buf[32];
                time_t t;
                char back[RFC3339_MAX];
                snprintf(buf, sizeof(buf), "%.10sT00:00:00Z", until);
                /* strptime() takes "2027-06-31" (timegm() makes it July 1st) and "2027-06- 3": only a
                 * date that formats back to itself is one. */
                if (strlen(until) != 10 || rfc3339_parse(buf, &t) < 0 ||
                    strncmp(rfc3339_format(t, back), until, 10) != 0)
                        return err_set(err, -EINVAL, "%s: valid_until must be a date YYYY-MM-DD, got '%.32s'", ctx,
                                       until);
                /* 0 means "no expiry": 1969-12-31 would end up there and never expire. */
                if (t < 0)
                        return err_set(err, -EINVAL, "%s: valid_until must be 1970-01-01 or later, got '%.32s'", ctx,
                                       until);
                c->valid_until = t + 24 * 3600; /* the date is the last valid day */
        }
        c->name = strdup(name);
        c->version = version ? strdup(version) : NULL;
        if (!c->name || (version && !c->version))
                return -ENOMEM;
        return 0;
}

int tags_parse(struct json_object *obj, const char *where, struct tags *ret, struct sovd_err *err) {
        struct tags t = {};
        size_t n;
        int r = 0;

        if (!json_object_is_type(obj, json_type_object))
                return err_set(err, -EINVAL, "%s: must be an object of tags", where);
        n = (size_t) json_object_object_length(obj);
        if (n > 64)
                return err_set(err, -EINVAL, "%s: at most 64 tags", where);
        t.items = calloc(n ? n : 1, sizeof(*t.items));
        if (!t.items)
                return -ENOMEM;

        json_object_object_foreach(obj, key, val) {
                if (r < 0)
                        break;
                if (!label_key_is_valid(key) || strchr(key, '/')) {
                        r = err_set(err, -EINVAL,
                                    "%s.%.64s: invalid tag name (1-63 of a-z 0-9 . _ -, starting with a letter or "
                                    "digit)",
                                    where, key);
                        break;
                }
                if (streq(key, "certifications")) {
                        size_t k;
                        if (!json_object_is_type(val, json_type_array)) {
                                r = err_set(err, -EINVAL, "%s.certifications: must be a list of strings or objects", where);
                                break;
                        }
                        k = json_object_array_length(val);
                        if (k > 32) {
                                r = err_set(err, -EINVAL, "%s.certifications: at most 32 entries", where);
                                break;
                        }
                        t.certs = calloc(k ? k : 1, sizeof(*t.certs));
                        if (!t.certs) {
                                r = -ENOMEM;
                                break;
                        }
                        for (size_t i = 0; i < k && r >= 0; i++) {
                                r = parse_certification(json_object_array_get_idx(val, i), where, i, &t.certs[i],
                                                        err);
                                t.n_certs++;
                        }
                        continue;
                }
                const char *v = json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;
                if (!v || !*v || !label_value_is_valid(v)) {
                        r = err_set(err, -EINVAL,
                                    "%s.%s: must be a non-empty string of printable UTF-8 up to 256 bytes", where, key);
                        break;
                }
                if ((streq(key, "jurisdiction") || streq(key, "operator_jurisdiction")) && !country_code_is_valid(v)) {
                        r = err_set(err, -EINVAL,
                                    "%s.%s: '%.16s' is not an ISO 3166-1 alpha-2 country code (e.g. FR)", where, key,
                                    v);
                        break;
                }
                if (streq(key, "region") && !region_code_is_valid(v)) {
                        r = err_set(err, -EINVAL,
                                    "%s.region: '%.16s' is not an ISO 3166-2 subdivision code (e.g. FR-IDF)", where, v);
                        break;
                }
                t.items[t.n_items].key = strdup(key);
                t.items[t.n_items].value = strdup(v);
                t.n_items++;
                if (!t.items[t.n_items - 1].key || !t.items[t.n_items - 1].value)
                        r = -ENOMEM;
        }
        if (r >= 0 && json_object_deep_copy(obj, &t.json, NULL) < 0)
                r = -ENOMEM;
        if (r < 0) {
                tags_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

void tags_done(struct tags *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n_items; i++) {
                free(t->items[i].key);
                free(t->items[i].value);
        }
        free(t->items);
        for (size_t i = 0; i < t->n_certs; i++) {
                free(t->certs[i].name);
                free(t->certs[i].version);
        }
        free(t->certs);
        json_object_put(t->json);
        *t = (struct tags){};
}

const char *tags_get(const struct tags *t, const char *key) {
        for (size_t i = 0; t && i < t->n_items; i++)
                if (streq(t->items[i].key, key))
                        return t->items[i].value;
        return NULL;
}

bool tags_empty(const struct tags *t) {
        return !t || (t->n_items == 0 && t->n_certs == 0);
}

struct json_object *tags_to_json(const struct tags *t) {
        struct json_object *copy = NULL;

        if (!t || !t->json)
                return json_object_new_object();
        if (json_object_deep_copy(t->json, &copy, NULL) < 0)
                return NULL;
        return copy;
}

size_t tags_unknown_certifications(const struct tags *t, const char **ret, size_t max) {
        size_t n = 0;

        for (size_t i = 0; t && i < t->n_certs && n < max; i++)
                if (!certification_name_is_known(t->certs[i].name))
                        ret[n++] = t->certs[i].name;
        return n;
}
