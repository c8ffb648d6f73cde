// A test host that loads the Bitrix24 add-in the way 1C:Enterprise does, through the Native API.
//
// It declares the interfaces itself (method order only, no 1C SDK headers), so a real C++
// compiler checks the layout the Rust side builds by hand: four vptrs, destructor slots (2 under
// the Itanium ABI; on Windows one placeholder slot, matching MSVC, which is what 1C uses), tVariant
// size and offsets.
//
// Usage: host <library> <webhook-url> <expected-version>
// Exit status: 0 when every check passed. The last line is "addin host: N passed, M failed".

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#ifdef _WIN32
#include <windows.h>
#define ADDIN_API __stdcall
#else
#include <dlfcn.h>
#include <thread>
#include <unistd.h>
#define ADDIN_API
#endif

typedef char16_t WCHAR_T;

// ------------------------------------------------------------------------------------------------
// types.h: tVariant

enum TYPEVAR : uint16_t {
    VTYPE_EMPTY = 0, VTYPE_NULL = 1, VTYPE_I2 = 2, VTYPE_I4 = 3, VTYPE_R4 = 4, VTYPE_R8 = 5,
    VTYPE_DATE = 6, VTYPE_TM = 7, VTYPE_PSTR = 8, VTYPE_INTERFACE = 9, VTYPE_ERROR = 10,
    VTYPE_BOOL = 11, VTYPE_VARIANT = 12, VTYPE_I1 = 13, VTYPE_UI1 = 14, VTYPE_UI2 = 15,
    VTYPE_UI4 = 16, VTYPE_I8 = 17, VTYPE_UI8 = 18, VTYPE_INT = 19, VTYPE_UINT = 20,
    VTYPE_HRESULT = 21, VTYPE_PWSTR = 22, VTYPE_BLOB = 23, VTYPE_CLSID = 24,
    VTYPE_ARRAY = 0x2000,
};

struct IID_ {
    uint32_t d1;
    uint16_t d2, d3;
    uint8_t d4[8];
};

struct tVariant {
    union {
        int8_t i8Val;
        int16_t shortVal;
        int32_t lVal;
        int intVal;
        unsigned int uintVal;
        int64_t llVal;
        uint8_t ui8Val;
        uint16_t ushortVal;
        uint32_t ulVal;
        uint64_t ullVal;
        int32_t errCode;
        long hRes;
        float fltVal;
        double dblVal;
        bool bVal;
        char chVal;
        wchar_t wchVal;
        double date;
        IID_ IDVal;
        tVariant* pvarVal;
        struct tm tmVal;
        struct {
            void* pInterfaceVal;
            IID_ InterfaceID;
        } iface;
        struct {
            char* pstrVal;
            uint32_t strLen;
        } str;
        struct {
            WCHAR_T* pwstrVal;
            uint32_t wstrLen;
        } wstr;
    };
    uint32_t cbElements;
    uint16_t vt;
};

#if defined(_WIN32)
static_assert(sizeof(tVariant) == 48, "tVariant size (Windows)");
static_assert(offsetof(tVariant, cbElements) == 40, "cbElements offset (Windows)");
static_assert(offsetof(tVariant, vt) == 44, "vt offset (Windows)");
#elif defined(__x86_64__)
static_assert(sizeof(tVariant) == 64, "tVariant size (Linux x86_64)");
static_assert(offsetof(tVariant, cbElements) == 56, "cbElements offset (Linux x86_64)");
static_assert(offsetof(tVariant, vt) == 60, "vt offset (Linux x86_64)");
#elif defined(__i386__)
static_assert(sizeof(tVariant) == 52, "tVariant size (Linux i386)");
static_assert(offsetof(tVariant, cbElements) == 44, "cbElements offset (Linux i386)");
static_assert(offsetof(tVariant, vt) == 48, "vt offset (Linux i386)");
#endif

// ------------------------------------------------------------------------------------------------
// The interfaces. On Linux a virtual destructor gives the 2 Itanium slots; on Windows 1C is built
// with MSVC (1 slot), so a mingw build declares one placeholder method instead of a destructor.

#ifdef _WIN32
#define DTOR_SLOT(cls) virtual void ADDIN_API dtor_slot_() = 0;
#define DTOR_SLOT_IMPL(cls) void ADDIN_API dtor_slot_() override {}
#else
#define DTOR_SLOT(cls) virtual ~cls() {}
#define DTOR_SLOT_IMPL(cls) ~cls() override {}
#endif

class IInitDoneBase {
public:
    DTOR_SLOT(IInitDoneBase)
    virtual bool ADDIN_API Init(void* disp) = 0;
    virtual bool ADDIN_API setMemManager(void* mem) = 0;
    virtual long ADDIN_API GetInfo() = 0;
    virtual void ADDIN_API Done() = 0;
};

class ILanguageExtenderBase {
public:
    DTOR_SLOT(ILanguageExtenderBase)
    virtual bool ADDIN_API RegisterExtensionAs(WCHAR_T** wsExtensionName) = 0;
    virtual long ADDIN_API GetNProps() = 0;
    virtual long ADDIN_API FindProp(const WCHAR_T* wsPropName) = 0;
    virtual const WCHAR_T* ADDIN_API GetPropName(long lPropNum, long lPropAlias) = 0;
    virtual bool ADDIN_API GetPropVal(const long lPropNum, tVariant* pvarPropVal) = 0;
    virtual bool ADDIN_API SetPropVal(const long lPropNum, tVariant* varPropVal) = 0;
    virtual bool ADDIN_API IsPropReadable(const long lPropNum) = 0;
    virtual bool ADDIN_API IsPropWritable(const long lPropNum) = 0;
    virtual long ADDIN_API GetNMethods() = 0;
    virtual long ADDIN_API FindMethod(const WCHAR_T* wsMethodName) = 0;
    virtual const WCHAR_T* ADDIN_API GetMethodName(const long lMethodNum, const long lMethodAlias) = 0;
    virtual long ADDIN_API GetNParams(const long lMethodNum) = 0;
    virtual bool ADDIN_API GetParamDefValue(const long lMethodNum, const long lParamNum, tVariant* pvarParamDefValue) = 0;
    virtual bool ADDIN_API HasRetVal(const long lMethodNum) = 0;
    virtual bool ADDIN_API CallAsProc(const long lMethodNum, tVariant* paParams, const long lSizeArray) = 0;
    virtual bool ADDIN_API CallAsFunc(const long lMethodNum, tVariant* pvarRetValue, tVariant* paParams, const long lSizeArray) = 0;
};

class LocaleBase {
public:
    DTOR_SLOT(LocaleBase)
    virtual void ADDIN_API SetLocale(const WCHAR_T* loc) = 0;
};

class UserLanguageBase {
public:
    DTOR_SLOT(UserLanguageBase)
    virtual void ADDIN_API SetUserInterfaceLanguageCode(const WCHAR_T* lang) = 0;
};

class IComponentBase : public IInitDoneBase, public ILanguageExtenderBase, public LocaleBase, public UserLanguageBase {
public:
#ifndef _WIN32
    ~IComponentBase() override {}
#endif
};

static_assert(sizeof(IComponentBase) == 4 * sizeof(void*), "four vptrs");

class IMemoryManager {
public:
    DTOR_SLOT(IMemoryManager)
    virtual bool ADDIN_API AllocMemory(void** pMemory, unsigned long ulCountByte) = 0;
    virtual void ADDIN_API FreeMemory(void** pMemory) = 0;
};

class IAddInDefBase {
public:
    DTOR_SLOT(IAddInDefBase)
    virtual bool ADDIN_API AddError(unsigned short wcode, const WCHAR_T* source, const WCHAR_T* descr, long scode) = 0;
    virtual bool ADDIN_API Read(WCHAR_T* wszPropName, tVariant* pVal, long* pErrCode, WCHAR_T** errDescriptor) = 0;
    virtual bool ADDIN_API Write(WCHAR_T* wszPropName, tVariant* pVar) = 0;
    virtual bool ADDIN_API RegisterProfileAs(WCHAR_T* wszProfileName) = 0;
    virtual bool ADDIN_API SetEventBufferDepth(long lDepth) = 0;
    virtual long ADDIN_API GetEventBufferDepth() = 0;
    virtual bool ADDIN_API ExternalEvent(WCHAR_T* wszSource, WCHAR_T* wszMessage, WCHAR_T* wszData) = 0;
    virtual void ADDIN_API CleanEventBuffer() = 0;
    virtual bool ADDIN_API SetStatusLine(WCHAR_T* wszStatusLine) = 0;
    virtual void ADDIN_API ResetStatusLine() = 0;
};

class IAddInDefBaseEx : public IAddInDefBase {
public:
    virtual void* ADDIN_API GetInterface(int iface) = 0;
};

typedef const WCHAR_T* (*GetClassNamesFn)();
typedef long (*GetClassObjectFn)(const WCHAR_T*, IComponentBase**);
typedef long (*DestroyObjectFn)(IComponentBase**);
typedef int (*SetPlatformCapabilitiesFn)(int);
typedef int (*GetAttachTypeFn)();

// ------------------------------------------------------------------------------------------------
// Checks

static int g_passed = 0;
static int g_failed = 0;
static bool g_verbose = false;  // B24_HOST_VERBOSE: print every envelope

static void check(bool ok, const std::string& what, const std::string& detail = std::string()) {
    if (ok) {
        ++g_passed;
    } else {
        ++g_failed;
        std::printf("FAIL: %s%s%s\n", what.c_str(), detail.empty() ? "" : " -- ", detail.c_str());
        std::fflush(stdout);
    }
}

// A tiny lock that needs no thread library (mingw's win32 thread model has no std::mutex).
class SpinLock {
public:
    void lock() {
        while (flag_.test_and_set(std::memory_order_acquire)) {
        }
    }
    void unlock() { flag_.clear(std::memory_order_release); }

private:
    std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

struct Guard {
    explicit Guard(SpinLock& l) : l_(l) { l_.lock(); }
    ~Guard() { l_.unlock(); }
    SpinLock& l_;
};

// ------------------------------------------------------------------------------------------------
// UTF helpers

static std::string utf8(const std::u16string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        uint32_t c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
            ++i;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (c < 0x800) {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out += static_cast<char>(0xE0 | (c >> 12));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (c >> 18));
            out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}

static std::u16string utf16(const std::string& s) {
    std::u16string out;
    for (size_t i = 0; i < s.size();) {
        unsigned char b = static_cast<unsigned char>(s[i]);
        uint32_t c;
        size_t n;
        if (b < 0x80) { c = b; n = 1; }
        else if ((b >> 5) == 6) { c = b & 0x1F; n = 2; }
        else if ((b >> 4) == 14) { c = b & 0x0F; n = 3; }
        else { c = b & 0x07; n = 4; }
        for (size_t k = 1; k < n && i + k < s.size(); ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        i += n;
        if (c >= 0x10000) {
            c -= 0x10000;
            out += static_cast<char16_t>(0xD800 + (c >> 10));
            out += static_cast<char16_t>(0xDC00 + (c & 0x3FF));
        } else {
            out += static_cast<char16_t>(c);
        }
    }
    return out;
}

// Case mapping for the ASCII and basic Cyrillic letters the member names use.
static char16_t upper16(char16_t c) {
    if (c >= u'a' && c <= u'z') return static_cast<char16_t>(c - 32);
    if (c >= 0x0430 && c <= 0x044F) return static_cast<char16_t>(c - 0x20);
    if (c >= 0x0450 && c <= 0x045F) return static_cast<char16_t>(c - 0x50);
    return c;
}
static char16_t lower16(char16_t c) {
    if (c >= u'A' && c <= u'Z') return static_cast<char16_t>(c + 32);
    if (c >= 0x0410 && c <= 0x042F) return static_cast<char16_t>(c + 0x20);
    if (c >= 0x0400 && c <= 0x040F) return static_cast<char16_t>(c + 0x50);
    return c;
}
static std::u16string upper(std::u16string s) { for (auto& c : s) c = upper16(c); return s; }
static std::u16string lower(std::u16string s) { for (auto& c : s) c = lower16(c); return s; }
static std::u16string zigzag(std::u16string s) {
    for (size_t i = 0; i < s.size(); ++i) s[i] = (i % 2) ? lower16(s[i]) : upper16(s[i]);
    return s;
}

// ------------------------------------------------------------------------------------------------
// The platform side: a memory manager that tracks every allocation, and a connection that records
// AddError.

class TrackingMemory : public IMemoryManager {
public:
    DTOR_SLOT_IMPL(TrackingMemory)

    bool ADDIN_API AllocMemory(void** pMemory, unsigned long ulCountByte) override {
        Guard g(lock_);
        if (!pMemory) {
            check(false, "AllocMemory called with a null out-pointer");
            return false;
        }
        if (fail_next_) {
            fail_next_ = false;
            *pMemory = nullptr;
            return false;
        }
        void* p = std::malloc(ulCountByte ? ulCountByte : 1);
        if (!p) return false;
        live_[p] = ulCountByte;
        ++allocs_;
        *pMemory = p;
        return true;
    }

    void ADDIN_API FreeMemory(void** pMemory) override {
        Guard g(lock_);
        if (!pMemory || !*pMemory) return;
        auto it = live_.find(*pMemory);
        if (it == live_.end()) {
            check(false, "FreeMemory of a pointer this manager does not own (foreign or double free)");
        } else {
            std::free(it->first);
            live_.erase(it);
            ++frees_;
        }
        *pMemory = nullptr;
    }

    // True when p is exactly a live allocation of at least `bytes` bytes.
    bool owns(const void* p, size_t bytes) {
        Guard g(lock_);
        auto it = live_.find(const_cast<void*>(p));
        return it != live_.end() && it->second >= bytes;
    }

    size_t live() { Guard g(lock_); return live_.size(); }
    size_t allocs() { Guard g(lock_); return allocs_; }
    size_t frees() { Guard g(lock_); return frees_; }
    void fail_next() { Guard g(lock_); fail_next_ = true; }

private:
    SpinLock lock_;
    std::map<void*, size_t> live_;
    size_t allocs_ = 0;
    size_t frees_ = 0;
    bool fail_next_ = false;
};

struct RecordedError {
    unsigned short wcode;
    std::u16string source;
    std::u16string descr;
    long scode;
};

struct RecordedEvent {
    std::u16string source;
    std::u16string message;
    std::u16string data;
};

class RecordingConnection : public IAddInDefBaseEx {
public:
    DTOR_SLOT_IMPL(RecordingConnection)

    bool ADDIN_API AddError(unsigned short wcode, const WCHAR_T* source, const WCHAR_T* descr, long scode) override {
        Guard g(lock_);
        errors.push_back(RecordedError{wcode, source ? source : u"<null>", descr ? descr : u"<null>", scode});
        return true;
    }
    bool ADDIN_API Read(WCHAR_T*, tVariant*, long*, WCHAR_T**) override { return false; }
    bool ADDIN_API Write(WCHAR_T*, tVariant*) override { return false; }
    bool ADDIN_API RegisterProfileAs(WCHAR_T*) override { return false; }
    bool ADDIN_API SetEventBufferDepth(long depth) override {
        Guard g(lock_);
        buffer_depth = depth;
        return true;
    }
    long ADDIN_API GetEventBufferDepth() override { return buffer_depth; }
    // Called from the add-in's worker thread: recorded under the lock, read through snapshot().
    bool ADDIN_API ExternalEvent(WCHAR_T* source, WCHAR_T* message, WCHAR_T* data) override {
        Guard g(lock_);
        ++events;
        event_log.push_back(RecordedEvent{source ? source : u"<null>", message ? message : u"<null>", data ? data : u"<null>"});
        return true;
    }
    void ADDIN_API CleanEventBuffer() override {}
    bool ADDIN_API SetStatusLine(WCHAR_T* text) override {
        Guard g(lock_);
        ++status_sets;
        last_status = text ? text : u"<null>";
        return true;
    }
    void ADDIN_API ResetStatusLine() override {
        Guard g(lock_);
        ++status_resets;
    }
    void* ADDIN_API GetInterface(int) override { return nullptr; }

    std::vector<RecordedEvent> snapshot() {
        Guard g(lock_);
        return event_log;
    }

    std::vector<RecordedError> errors;
    std::vector<RecordedEvent> event_log;
    long buffer_depth = 1;
    int events = 0;
    int status_sets = 0;
    int status_resets = 0;
    std::u16string last_status;

private:
    SpinLock lock_;
};

static TrackingMemory g_mem;

// ------------------------------------------------------------------------------------------------
// Variants

static tVariant v_empty() {
    tVariant v;
    std::memset(&v, 0, sizeof v);
    v.vt = VTYPE_EMPTY;
    return v;
}
static tVariant v_wstr(std::u16string& storage) {  // the host owns parameter memory, as 1C does
    tVariant v = v_empty();
    v.vt = VTYPE_PWSTR;
    v.wstr.pwstrVal = &storage[0];
    v.wstr.wstrLen = static_cast<uint32_t>(storage.size());
    return v;
}
static tVariant v_pstr(std::string& storage) {
    tVariant v = v_empty();
    v.vt = VTYPE_PSTR;
    v.str.pstrVal = &storage[0];
    v.str.strLen = static_cast<uint32_t>(storage.size());
    return v;
}
static tVariant v_i4(int32_t x) { tVariant v = v_empty(); v.vt = VTYPE_I4; v.lVal = x; return v; }
static tVariant v_i2(int16_t x) { tVariant v = v_empty(); v.vt = VTYPE_I2; v.shortVal = x; return v; }
static tVariant v_i8(int64_t x) { tVariant v = v_empty(); v.vt = VTYPE_I8; v.llVal = x; return v; }
static tVariant v_ui4(uint32_t x) { tVariant v = v_empty(); v.vt = VTYPE_UI4; v.ulVal = x; return v; }
static tVariant v_r8(double x) { tVariant v = v_empty(); v.vt = VTYPE_R8; v.dblVal = x; return v; }
static tVariant v_r4(float x) { tVariant v = v_empty(); v.vt = VTYPE_R4; v.fltVal = x; return v; }
static tVariant v_bool(bool x) { tVariant v = v_empty(); v.vt = VTYPE_BOOL; v.bVal = x; return v; }
static tVariant v_blob(std::string& storage) {  // ДвоичныеДанные: bytes in pstrVal, strLen bytes
    tVariant v = v_pstr(storage);
    v.vt = VTYPE_BLOB;
    return v;
}

// Takes a string the add-in returned: it must be a live allocation of our manager, NUL-terminated
// at wstrLen; it is freed with FreeMemory as 1C does.
static std::u16string take_wstr(tVariant& v, const std::string& ctx) {
    if (v.vt != VTYPE_PWSTR) {
        check(false, ctx + ": expected a PWSTR", "vt=" + std::to_string(v.vt));
        return std::u16string();
    }
    WCHAR_T* p = v.wstr.pwstrVal;
    size_t len = v.wstr.wstrLen;
    bool owned = p && g_mem.owns(p, (len + 1) * sizeof(WCHAR_T));
    check(owned, ctx + ": returned string is allocated by the platform's memory manager");
    if (!owned) return std::u16string();
    check(p[len] == 0, ctx + ": returned string is NUL-terminated at wstrLen");
    std::u16string s(p, len);
    void* pp = p;
    g_mem.FreeMemory(&pp);
    v = v_empty();
    return s;
}

static std::u16string take_name(const WCHAR_T* p, const std::string& ctx) {
    if (!p) {
        check(false, ctx + ": null name");
        return std::u16string();
    }
    std::u16string s(p);
    check(g_mem.owns(p, (s.size() + 1) * sizeof(WCHAR_T)), ctx + ": name is allocated by the memory manager");
    void* pp = const_cast<WCHAR_T*>(p);
    g_mem.FreeMemory(&pp);
    return s;
}

// ------------------------------------------------------------------------------------------------
// Envelopes (compact JSON written by serde_json; a few string searches suffice)

static bool env_ok(const std::string& e) { return e.rfind("{\"ok\":true", 0) == 0; }
static std::string json_str_field(const std::string& e, const std::string& key) {
    std::string pat = "\"" + key + "\":\"";
    size_t at = e.find(pat);
    if (at == std::string::npos) return std::string();
    at += pat.size();
    size_t end = e.find('"', at);
    return end == std::string::npos ? std::string() : e.substr(at, end - at);
}
static long long env_result_int(const std::string& e) {
    std::string pat = "\"result\":";
    size_t at = e.find(pat);
    if (at == std::string::npos) return -1;
    at += pat.size();
    if (at < e.size() && e[at] == '"') ++at;
    long long v = 0;
    bool any = false;
    while (at < e.size() && e[at] >= '0' && e[at] <= '9') { v = v * 10 + (e[at] - '0'); ++at; any = true; }
    return any ? v : -1;
}
static bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// ------------------------------------------------------------------------------------------------
// The driver

struct Lib {
    GetClassNamesFn GetClassNames = nullptr;
    GetClassObjectFn GetClassObject = nullptr;
    DestroyObjectFn DestroyObject = nullptr;
    SetPlatformCapabilitiesFn SetPlatformCapabilities = nullptr;
    GetAttachTypeFn GetAttachType = nullptr;
};

template <typename T>
static T sym(void* handle, const char* name) {
#ifdef _WIN32
    return reinterpret_cast<T>(reinterpret_cast<void (*)()>(GetProcAddress(static_cast<HMODULE>(handle), name)));
#else
    return reinterpret_cast<T>(dlsym(handle, name));
#endif
}

struct Expected {
    const char16_t* en;
    const char16_t* ru;
    long params;
    long required;
};

static const Expected kMethods[] = {
    {u"Connect", u"Подключить", 2, 1},
    {u"CheckConnection", u"ПроверитьПодключение", 0, 0},
    {u"Call", u"Вызвать", 2, 1},
    {u"Batch", u"Пакет", 2, 1},
    {u"GetUserByGUID", u"ПолучитьПользователяПоGUID", 1, 1},
    {u"CreateContact", u"СоздатьКонтакт", 1, 1},
    {u"UpdateContact", u"ОбновитьКонтакт", 2, 2},
    {u"DeleteContact", u"УдалитьКонтакт", 1, 1},
    {u"GetContact", u"ПолучитьКонтакт", 1, 1},
    {u"ContactFields", u"ПоляКонтакта", 0, 0},
    {u"CreateCompany", u"СоздатьКомпанию", 1, 1},
    {u"UpdateCompany", u"ОбновитьКомпанию", 2, 2},
    {u"DeleteCompany", u"УдалитьКомпанию", 1, 1},
    {u"GetCompany", u"ПолучитьКомпанию", 1, 1},
    {u"CompanyFields", u"ПоляКомпании", 0, 0},
    {u"UpsertContact", u"ЗаписатьКонтакт", 1, 1},
    {u"UpsertCompany", u"ЗаписатьКомпанию", 1, 1},
    {u"SetContactMultiField", u"УстановитьМножественноеПолеКонтакта", 3, 3},
    {u"SetCompanyMultiField", u"УстановитьМножественноеПолеКомпании", 3, 3},
    {u"BulkUpsertContacts", u"ЗаписатьКонтактыПакетом", 1, 1},
    {u"BulkUpsertCompanies", u"ЗаписатьКомпанииПакетом", 1, 1},
    {u"Export", u"Выгрузить", 4, 1},
    {u"ParseEvent", u"РазобратьСобытие", 3, 1},
    {u"PullChanges", u"ПолучитьИзменения", 5, 1},
    {u"StartBulkUpsertContacts", u"НачатьЗаписьКонтактовПакетом", 1, 1},
    {u"StartBulkUpsertCompanies", u"НачатьЗаписьКомпанийПакетом", 1, 1},
    {u"StartExport", u"НачатьВыгрузку", 4, 1},
    {u"JobResult", u"РезультатЗадания", 1, 1},
    {u"CancelJob", u"ОтменитьЗадание", 1, 1},
    {u"AddFile", u"ДобавитьФайл", 2, 2},
    {u"RemoveFiles", u"УдалитьФайлы", 0, 0},
};

struct ExpectedProp {
    const char16_t* en;
    const char16_t* ru;
    bool writable;
};

static const ExpectedProp kProps[] = {
    {u"Version", u"Версия", false},
    {u"LastError", u"ПоследняяОшибка", false},
    {u"WebhookURL", u"АдресВебхука", true},
    {u"Timeout", u"Таймаут", true},
    {u"ThrowExceptions", u"ВызыватьИсключения", true},
    {u"LastResponse", u"ПоследнийОтвет", false},
    {u"ErrorCode", u"КодОшибки", false},
    {u"ErrorKind", u"ВидОшибки", false},
    {u"Journal", u"Журнал", false},
};

class Driver {
public:
    Driver(IComponentBase* c, RecordingConnection* conn) : c_(c), conn_(conn) {}

    long method(const char16_t* name) {
        long m = c_->FindMethod(name);
        check(m >= 0, "FindMethod " + utf8(name));
        return m;
    }
    long prop(const char16_t* name) {
        long p = c_->FindProp(name);
        check(p >= 0, "FindProp " + utf8(name));
        return p;
    }

    // Calls a method as a function; returns the envelope (UTF-8) or "" when the call returned false.
    std::string call(const char16_t* name, std::vector<tVariant> params, bool* returned = nullptr) {
        long m = method(name);
        tVariant ret = v_empty();
        bool ok = c_->CallAsFunc(m, &ret, params.empty() ? nullptr : params.data(), static_cast<long>(params.size()));
        if (returned) *returned = ok;
        if (!ok) {
            check(ret.vt == VTYPE_EMPTY, utf8(name) + ": nothing allocated into the return value of a failed call");
            if (g_verbose) std::printf("  %s -> false\n", utf8(name).c_str());
            return std::string();
        }
        std::string e = utf8(take_wstr(ret, utf8(name)));
        if (g_verbose) std::printf("  %s -> %.300s\n", utf8(name).c_str(), e.c_str());
        return e;
    }

    std::string last_error() { return get_str(u"LastError"); }

    std::string get_str(const char16_t* name) {
        tVariant v = v_empty();
        bool ok = c_->GetPropVal(prop(name), &v);
        check(ok, "GetPropVal " + utf8(name));
        return ok ? utf8(take_wstr(v, "GetPropVal " + utf8(name))) : std::string();
    }

    tVariant get(const char16_t* name) {
        tVariant v = v_empty();
        check(c_->GetPropVal(prop(name), &v), "GetPropVal " + utf8(name));
        return v;
    }

    bool set(const char16_t* name, tVariant v) { return c_->SetPropVal(prop(name), &v); }

    // A failed call with ThrowExceptions off: the envelope is returned, LastError set.
    void expect_error(const std::string& what, const char16_t* name, std::vector<tVariant> params, const std::string& code,
                      const std::string& kind = "invalid_input") {
        bool returned = false;
        std::string e = call(name, std::move(params), &returned);
        check(returned, what + ": CallAsFunc returns true while ThrowExceptions is off");
        check(!env_ok(e) && contains(e, "\"ok\":false"), what + ": envelope has ok:false", e);
        check(json_str_field(e, "code") == code, what + ": error code " + code, e);
        check(json_str_field(e, "kind") == kind, what + ": error kind " + kind, e);
        std::string le = last_error();
        check(le.rfind("[" + code + "] ", 0) == 0, what + ": LastError is [" + code + "] ...", le);
    }

    // A successful call: ok:true and LastError "".
    std::string expect_ok(const std::string& what, const char16_t* name, std::vector<tVariant> params) {
        bool returned = false;
        std::string e = call(name, std::move(params), &returned);
        check(returned && env_ok(e), what + ": ok:true", e);
        check(last_error().empty(), what + ": LastError is empty after success", last_error());
        return e;
    }

    bool depth_set() { return conn_->GetEventBufferDepth() > 1; }

    IComponentBase* c_;
    RecordingConnection* conn_;
};

static void test_enumeration(IComponentBase* c) {
    const long nm = sizeof(kMethods) / sizeof(kMethods[0]);
    const long np = sizeof(kProps) / sizeof(kProps[0]);
    check(c->GetNMethods() == nm, "GetNMethods", std::to_string(c->GetNMethods()));
    check(c->GetNProps() == np, "GetNProps", std::to_string(c->GetNProps()));
    for (long i = 0; i < np && i < c->GetNProps(); ++i) {
        const ExpectedProp& e = kProps[i];
        std::string tag = "property " + utf8(e.en);
        check(take_name(c->GetPropName(i, 0), tag) == e.en, tag + ": GetPropName(alias 0) is English");
        check(take_name(c->GetPropName(i, 1), tag) == e.ru, tag + ": GetPropName(alias 1) is Russian");
        for (const std::u16string& n : {std::u16string(e.en), std::u16string(e.ru), upper(e.en), lower(e.en), upper(e.ru),
                                        lower(e.ru), zigzag(e.ru)}) {
            check(c->FindProp(n.c_str()) == i, tag + ": FindProp(" + utf8(n) + ")");
        }
        check(c->FindMethod(e.en) == -1, tag + ": not a method");
        check(c->IsPropReadable(i), tag + ": readable");
        check(c->IsPropWritable(i) == e.writable, tag + ": writable flag");
    }
    for (long i = 0; i < nm && i < c->GetNMethods(); ++i) {
        const Expected& e = kMethods[i];
        std::string tag = "method " + utf8(e.en);
        check(take_name(c->GetMethodName(i, 0), tag) == e.en, tag + ": GetMethodName(alias 0) is English");
        check(take_name(c->GetMethodName(i, 1), tag) == e.ru, tag + ": GetMethodName(alias 1) is Russian");
        for (const std::u16string& n : {std::u16string(e.en), std::u16string(e.ru), upper(e.en), lower(e.en), upper(e.ru),
                                        lower(e.ru), zigzag(e.en), zigzag(e.ru)}) {
            check(c->FindMethod(n.c_str()) == i, tag + ": FindMethod(" + utf8(n) + ")");
        }
        check(c->FindProp(e.en) == -1, tag + ": not a property");
        check(c->GetNParams(i) == e.params, tag + ": GetNParams");
        check(c->HasRetVal(i), tag + ": HasRetVal");
        for (long p = 0; p < e.params; ++p) {
            tVariant v = v_empty();
            bool has = c->GetParamDefValue(i, p, &v);
            check(has == (p >= e.required), tag + ": GetParamDefValue(" + std::to_string(p) + ") only for optional params");
            if (has && v.vt == VTYPE_PWSTR) {
                check(take_wstr(v, tag + " default").empty(), tag + ": string default is empty");
            } else if (has && v.vt == VTYPE_R8) {
                check(v.dblVal == 1.0, tag + ": numeric default is 1 (Export's PagesPerBatch)", std::to_string(v.dblVal));
            } else if (has) {
                check(v.vt == VTYPE_BOOL && !v.bVal, tag + ": non-string default is False", std::to_string(v.vt));
            } else {
                check(v.vt == VTYPE_EMPTY, tag + ": no default leaves EMPTY");
            }
        }
    }
    check(c->FindMethod(u"создатьконтакт") == c->FindMethod(u"CREATECONTACT") && c->FindMethod(u"CREATECONTACT") >= 0,
          "FindMethod создатьконтакт == CREATECONTACT");
    check(c->FindMethod(u"NoSuchMethod") == -1, "FindMethod of an unknown name is -1");
    check(c->FindMethod(nullptr) == -1, "FindMethod(NULL) is -1");
    check(c->FindProp(u"") == -1, "FindProp(\"\") is -1");
    check(c->FindProp(nullptr) == -1, "FindProp(NULL) is -1");
    check(c->GetMethodName(nm, 0) == nullptr, "GetMethodName out of range is NULL");
    check(c->GetMethodName(0, 2) == nullptr, "GetMethodName with alias 2 is NULL");
    check(c->GetPropName(-1, 0) == nullptr, "GetPropName(-1) is NULL");
    check(c->GetNParams(-5) == 0, "GetNParams out of range is 0");
    check(!c->HasRetVal(nm), "HasRetVal out of range is false");
    check(!c->IsPropReadable(np) && !c->IsPropWritable(-1), "IsPropReadable/Writable out of range");
    tVariant v = v_empty();
    check(!c->GetPropVal(np, &v) && v.vt == VTYPE_EMPTY, "GetPropVal out of range is false");
    check(!c->GetPropVal(0, nullptr), "GetPropVal(NULL variant) is false");
    check(!c->SetPropVal(0, &v), "SetPropVal of read-only Version is false");
    check(!c->CallAsFunc(nm, &v, nullptr, 0) && v.vt == VTYPE_EMPTY, "CallAsFunc out of range is false");
}

static void test_properties_offline(Driver& d, const std::string& version) {
    check(d.get_str(u"Версия") == version, "Version is the crate version", d.get_str(u"Version"));
    check(d.get_str(u"LastError").empty(), "LastError is empty at start");
    check(d.get_str(u"АдресВебхука").empty(), "WebhookURL is empty before Connect");
    tVariant t = d.get(u"Timeout");
    check(t.vt == VTYPE_R8 && t.dblVal == 60.0, "Timeout reads back the library default, 60 s, at start");
    check(d.get_str(u"ПоследнийОтвет").empty() && d.get_str(u"ErrorCode").empty() && d.get_str(u"ВидОшибки").empty(),
          "LastResponse, ErrorCode and ErrorKind are empty at start");
    check(d.get_str(u"Журнал").empty(), "Journal is empty before Connect");
    tVariant th = d.get(u"ThrowExceptions");
    check(th.vt == VTYPE_BOOL && !th.bVal, "ThrowExceptions is false by default");

    check(d.set(u"Таймаут", v_r8(12.5)), "set Timeout 12.5");
    t = d.get(u"Timeout");
    check(t.vt == VTYPE_R8 && t.dblVal == 12.5, "Timeout reads back 12.5");
    check(d.set(u"Timeout", v_i4(30)), "set Timeout 30 (I4)");
    t = d.get(u"Timeout");
    check(t.vt == VTYPE_R8 && t.dblVal == 30.0, "Timeout reads back 30");
    check(d.last_error().empty(), "LastError empty after setting Timeout");
    // Invalid property values raise (SetPropVal false + AddError) even with ThrowExceptions off:
    // a property write has no result BSL could check.
    std::u16string s = u"abc";
    size_t errors = d.conn_->errors.size();
    check(!d.set(u"Timeout", v_wstr(s)), "set Timeout to a string raises");
    check(d.last_error().rfind("[WRONG_PARAM_TYPE] ", 0) == 0, "set Timeout to a string sets LastError", d.last_error());
    check(!d.set(u"Timeout", v_r8(-1)), "set Timeout -1 raises");
    check(d.last_error().rfind("[INVALID_TIMEOUT] ", 0) == 0, "negative Timeout is INVALID_TIMEOUT", d.last_error());
    check(!d.set(u"Timeout", v_i4(0)), "set Timeout 0 raises: it does not mean 'no timeout' here");
    check(d.get_str(u"КодОшибки") == "INVALID_TIMEOUT", "ErrorCode is INVALID_TIMEOUT", d.get_str(u"ErrorCode"));
    check(d.conn_->errors.size() == errors + 3, "each invalid property write called AddError");
    std::u16string junk_url = u"not a url";
    check(!d.set(u"АдресВебхука", v_wstr(junk_url)), "a bad WebhookURL raises instead of silently disconnecting");
    check(d.get_str(u"ВидОшибки") == "invalid_input", "ErrorKind of a bad WebhookURL is invalid_input", d.get_str(u"ErrorKind"));
    t = d.get(u"Timeout");
    check(t.vt == VTYPE_R8 && t.dblVal == 30.0, "a rejected Timeout keeps the old value");
}

// The library's own messages follow the locale 1C sets (Russian here, from main); a portal's
// words are never translated. Switching the interface language switches them back.
static void test_language(Driver& d, IComponentBase* obj) {
    std::u16string fields = u"{\"NAME\":\"x\"}";
    std::string e = d.call(u"CreateContact", {v_wstr(fields)});
    check(contains(e, u8"\"description\":\"нет подключения: вызовите Подключить (Connect)"),
          "ru: the envelope's description of NOT_CONNECTED is Russian", e);
    check(d.last_error().rfind(u8"[NOT_CONNECTED] нет подключения", 0) == 0, "ru: LastError is Russian", d.last_error());
    check(!d.set(u"Timeout", v_i4(0)), "ru: Timeout 0 raises");
    check(contains(d.last_error(), u8"Таймаут должен быть от 0.001 до 3600 секунд, передано: 0"),
          "ru: the Timeout message is a Russian sentence with its figures", d.last_error());
    obj->SetUserInterfaceLanguageCode(u"en");
    e = d.call(u"CreateContact", {v_wstr(fields)});
    check(contains(e, "\"description\":\"not connected: call Connect"), "en: the description is English again", e);
    obj->SetUserInterfaceLanguageCode(u"ru");
    e = d.call(u"CreateContact", {v_wstr(fields)});
    check(contains(e, u8"нет подключения"), "ru again after switching back", e);
}

static void test_bad_params(Driver& d) {
    std::u16string digits_bad = u"12a";
    std::u16string fields = u"{\"NAME\":\"x\"}";
    std::u16string surrogate = u"{\"NAME\":\"a?z\"}";
    surrogate[10] = static_cast<char16_t>(0xD800);  // a lone high surrogate in place of '?'
    std::u16string lone_low = u"{\"NAME\":\"\"}";
    lone_low.insert(9, 1, static_cast<char16_t>(0xDC01));

    // NULL params with count 0, to a method that needs one.
    tVariant ret = v_empty();
    long get = d.method(u"GetContact");
    check(d.c_->CallAsFunc(get, &ret, nullptr, 0), "GetContact(NULL, 0) returns true");
    std::string e = utf8(take_wstr(ret, "GetContact(NULL,0)"));
    check(json_str_field(e, "code") == "WRONG_PARAM_COUNT", "GetContact(NULL, 0) is WRONG_PARAM_COUNT", e);
    // NULL params with a nonzero count.
    check(d.c_->CallAsFunc(get, &ret, nullptr, 1), "GetContact(NULL, 1) returns true");
    e = utf8(take_wstr(ret, "GetContact(NULL,1)"));
    check(json_str_field(e, "code") == "NULL_PARAMS", "GetContact(NULL, 1) is NULL_PARAMS", e);
    check(json_str_field(e, "kind") == "invalid_input", "NULL_PARAMS is invalid_input", e);
    // A negative count.
    tVariant one = v_i4(1);
    check(d.c_->CallAsFunc(get, &ret, &one, -1), "GetContact(p, -1) returns true");
    e = utf8(take_wstr(ret, "GetContact(p,-1)"));
    check(json_str_field(e, "code") == "WRONG_PARAM_COUNT", "negative count is WRONG_PARAM_COUNT", e);

    d.expect_error("GetContact(EMPTY)", u"GetContact", {v_empty()}, "MISSING_PARAM");
    d.expect_error("GetContact(BOOL)", u"ПолучитьКонтакт", {v_bool(true)}, "WRONG_PARAM_TYPE");
    d.expect_error("GetContact(1.5)", u"GetContact", {v_r8(1.5)}, "INVALID_ID");
    d.expect_error("GetContact(\"12a\")", u"GetContact", {v_wstr(digits_bad)}, "INVALID_ID");
    d.expect_error("UpdateContact(1)", u"UpdateContact", {v_i4(1)}, "WRONG_PARAM_COUNT");
    d.expect_error("UpdateCompany(1, 2)", u"UpdateCompany", {v_i4(1), v_i4(2)}, "WRONG_PARAM_TYPE");
    d.expect_error("CreateContact(I4)", u"CreateContact", {v_i4(5)}, "WRONG_PARAM_TYPE");
    d.expect_error("CreateContact(lone high surrogate)", u"СоздатьКонтакт", {v_wstr(surrogate)}, "INVALID_UTF16");
    d.expect_error("CreateCompany(lone low surrogate)", u"CreateCompany", {v_wstr(lone_low)}, "INVALID_UTF16");
    std::string bad_utf8 = "{\"TITLE\":\"\xff\"}";
    d.expect_error("CreateCompany(PSTR bad UTF-8)", u"CreateCompany", {v_pstr(bad_utf8)}, "INVALID_UTF8");
    d.expect_error("Connect()", u"Connect", {}, "WRONG_PARAM_COUNT");
    d.expect_error("Connect(a, b, c)", u"Подключить", {v_wstr(fields), v_empty(), v_empty()}, "WRONG_PARAM_COUNT");
    d.expect_error("Call(EMPTY)", u"Call", {v_empty(), v_empty()}, "MISSING_PARAM");
    d.expect_error("Batch(x, \"yes\")", u"Batch", {v_wstr(fields), v_wstr(digits_bad)}, "WRONG_PARAM_TYPE");
    tVariant arr = v_i4(1);
    arr.vt = VTYPE_ARRAY | VTYPE_I4;
    d.expect_error("DeleteCompany(array)", u"DeleteCompany", {arr}, "WRONG_PARAM_TYPE");
    tVariant broken = v_empty();
    broken.vt = VTYPE_PWSTR;
    broken.wstr.pwstrVal = nullptr;
    broken.wstr.wstrLen = 5;
    d.expect_error("GetCompany(PWSTR NULL, len 5)", u"GetCompany", {broken}, "WRONG_PARAM_TYPE");
    tVariant weird_bool = v_empty();
    weird_bool.vt = VTYPE_BOOL;
    weird_bool.ui8Val = 7;  // not 0/1: must not be UB on the Rust side
    d.expect_error("GetCompany(BOOL 7)", u"GetCompany", {weird_bool}, "WRONG_PARAM_TYPE");
}

static void test_throw(Driver& d) {
    size_t before = d.conn_->errors.size();
    check(d.set(u"ВызыватьИсключения", v_bool(true)), "set ThrowExceptions true");
    tVariant th = d.get(u"ThrowExceptions");
    check(th.vt == VTYPE_BOOL && th.bVal, "ThrowExceptions reads true");

    bool returned = true;
    std::string e = d.call(u"GetContact", {v_r8(2.5)}, &returned);
    check(!returned, "with ThrowExceptions a failing CallAsFunc returns false");
    std::string le = d.last_error();
    check(le.rfind("[INVALID_ID] ", 0) == 0, "LastError set while throwing", le);
    std::string last = d.get_str(u"LastResponse");
    check(contains(last, "\"code\":\"INVALID_ID\"") && contains(last, "\"kind\":\"invalid_input\"") &&
              contains(last, "\"retryable\""),
          "LastResponse keeps the whole envelope of a call that raised", last);
    check(d.conn_->errors.size() == before + 1, "AddError called once", std::to_string(d.conn_->errors.size() - before));
    if (d.conn_->errors.size() == before + 1) {
        const RecordedError& r = d.conn_->errors.back();
        check(r.wcode == 1006, "AddError wcode is ADDIN_E_FAIL (1006)", std::to_string(r.wcode));
        check(r.source == u"Bitrix24", "AddError source is Bitrix24", utf8(r.source));
        check(utf8(r.descr) == le, "AddError descr equals LastError", utf8(r.descr));
        check(r.scode != 0, "AddError scode is nonzero");
    }
    // CallAsProc raises the same way.
    long m = d.method(u"DeleteContact");
    std::u16string not_id = u"x";
    tVariant p = v_wstr(not_id);
    bool ok = d.c_->CallAsProc(m, &p, 1);
    check(!ok, "with ThrowExceptions a failing CallAsProc returns false");
    check(d.conn_->errors.size() == before + 2, "AddError called for CallAsProc too");
    // A bad property value raises too.
    std::u16string s = u"x";
    check(!d.set(u"Timeout", v_wstr(s)), "with ThrowExceptions a bad Timeout makes SetPropVal false");
    check(d.conn_->errors.size() == before + 3, "AddError called for SetPropVal");
    // What "[CODE] text" leaves out is in the properties after the exception.
    check(d.get_str(u"ErrorCode") == "WRONG_PARAM_TYPE" && d.get_str(u"ErrorKind") == "invalid_input",
          "ErrorCode and ErrorKind after an exception", d.get_str(u"ErrorCode"));

    check(d.set(u"ThrowExceptions", v_i4(0)), "set ThrowExceptions 0 (I4)");
    th = d.get(u"ThrowExceptions");
    check(th.vt == VTYPE_BOOL && !th.bVal, "ThrowExceptions reads false");
    e = d.call(u"GetContact", {v_r8(2.5)}, &returned);
    check(returned && !env_ok(e), "without ThrowExceptions the error is an envelope again");
    check(d.conn_->errors.size() == before + 3, "no AddError without ThrowExceptions");
}

static std::string secret_of(const std::string& url) {
    size_t at = url.find("/rest/");
    if (at == std::string::npos) return std::string();
    at = url.find('/', at + 6);
    if (at == std::string::npos) return std::string();
    size_t end = url.find('/', at + 1);
    return url.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
}

static void test_connected(Driver& d, const std::string& webhook) {
    std::u16string url = utf16(webhook);
    std::string e = d.expect_ok("Connect", u"Подключить", {v_wstr(url), v_empty()});
    std::string secret = secret_of(webhook);
    std::string shown = d.get_str(u"WebhookURL");
    check(!shown.empty() && contains(shown, "***"), "WebhookURL is masked after Connect", shown);
    check(secret.empty() || !contains(shown, secret), "WebhookURL does not show the secret", shown);
    check(secret.empty() || !contains(e, secret), "Connect's envelope does not show the secret", e);

    // Setting Timeout rebuilds the client; the connection keeps working.
    check(d.set(u"Timeout", v_r8(20)), "set Timeout while connected");
    check(d.last_error().empty(), "LastError empty after rebuilding with a new Timeout", d.last_error());

    d.expect_ok("CheckConnection", u"ПроверитьПодключение", {});
    std::u16string scope = u"scope";
    d.expect_ok("Call(scope)", u"Call", {v_wstr(scope), v_empty()});
    std::u16string empty_params = u"";
    d.expect_ok("Вызвать(scope, \"\")", u"Вызвать", {v_wstr(scope), v_wstr(empty_params)});
    std::string pscope = "scope";
    d.expect_ok("Call(PSTR scope)", u"Call", {v_pstr(pscope)});
    std::u16string batch = u"{\"a\":\"scope\",\"b\":\"crm.contact.fields\"}";
    d.expect_ok("Batch(cmds)", u"Batch", {v_wstr(batch), v_empty()});
    d.expect_ok("Пакет(cmds, Истина)", u"Пакет", {v_wstr(batch), v_bool(true)});
    d.expect_ok("Batch(cmds, 0)", u"Batch", {v_wstr(batch), v_i4(0)});

    std::string cf = d.expect_ok("ContactFields", u"ContactFields", {});
    check(contains(cf, "\"NAME\""), "ContactFields has NAME", cf.substr(0, 200));
    std::string kf = d.expect_ok("ПоляКомпании", u"ПоляКомпании", {});
    check(contains(kf, "\"TITLE\""), "CompanyFields has TITLE", kf.substr(0, 200));

    std::u16string guid = u"00000000-0000-0000-0000-000000000000";
    bool returned = false;
    std::string g = d.call(u"GetUserByGUID", {v_wstr(guid)}, &returned);
    check(returned && (env_ok(g) == d.last_error().empty()), "GetUserByGUID gives an envelope and a matching LastError", g);
    check(env_ok(g) || json_str_field(g, "kind") == "not_found", "unknown GUID is not_found", g);

    // Contacts: Armenian, Cyrillic and an astral character survive the round trip exactly.
    std::u16string contact = u"{\"NAME\":\"Արամ\",\"LAST_NAME\":\"Иванов-Ёлкин\",\"SECOND_NAME\":\"😀\"}";
    e = d.expect_ok("CreateContact", u"СоздатьКонтакт", {v_wstr(contact)});
    long long id = env_result_int(e);
    check(id > 0, "CreateContact returns {\"ok\":true,\"result\":<id>}", e);
    if (id > 0) {
        std::u16string sid = utf16(std::to_string(id));
        for (auto& p : std::vector<std::pair<std::string, tVariant>>{{"I4", v_i4(static_cast<int32_t>(id))},
                                                                       {"I2", v_i2(static_cast<int16_t>(id))},
                                                                       {"I8", v_i8(id)},
                                                                       {"UI4", v_ui4(static_cast<uint32_t>(id))},
                                                                       {"R8", v_r8(static_cast<double>(id))},
                                                                       {"R4", v_r4(static_cast<float>(id))},
                                                                       {"PWSTR", v_wstr(sid)}}) {
            std::string got = d.expect_ok("GetContact(" + p.first + ")", u"GetContact", {p.second});
            check(contains(got, u8"\"NAME\":\"Արամ\"") && contains(got, u8"\"LAST_NAME\":\"Иванов-Ёлкин\"") &&
                      contains(got, u8"\"SECOND_NAME\":\"😀\""),
                  "GetContact(" + p.first + ") returns the exact Armenian/Cyrillic/astral text", got.substr(0, 300));
        }
        std::u16string upd = u"{\"NAME\":\"Пётр\"}";
        d.expect_ok("UpdateContact", u"ОбновитьКонтакт", {v_r8(static_cast<double>(id)), v_wstr(upd)});
        std::string got = d.expect_ok("GetContact after update", u"ПолучитьКонтакт", {v_i8(id)});
        check(contains(got, u8"\"NAME\":\"Пётр\""), "UpdateContact changed NAME", got.substr(0, 300));
        d.expect_ok("DeleteContact", u"DeleteContact", {v_wstr(sid)});
        bool r = false;
        std::string gone = d.call(u"GetContact", {v_i8(id)}, &r);
        check(r && !env_ok(gone) && json_str_field(gone, "kind") == "not_found", "GetContact after delete is not_found", gone);
        check(!d.last_error().empty(), "LastError set after a not_found", gone);
        check(json_str_field(gone, "description") == "Not found", "a portal's description stays as sent under a Russian locale", gone);
    }

    std::u16string company = u"{\"TITLE\":\"Հայկական ընկերություն «Ռուբին»\"}";
    e = d.expect_ok("CreateCompany", u"CreateCompany", {v_wstr(company)});
    long long cid = env_result_int(e);
    check(cid > 0, "CreateCompany returns an id", e);
    if (cid > 0) {
        std::string got = d.expect_ok("GetCompany", u"GetCompany", {v_i4(static_cast<int32_t>(cid))});
        check(contains(got, u8"\"TITLE\":\"Հայկական ընկերություն «Ռուբին»\""), "GetCompany returns the exact title", got.substr(0, 300));
        std::u16string upd = u"{\"TITLE\":\"ООО «Ромашка»\"}";
        d.expect_ok("UpdateCompany", u"UpdateCompany", {v_i4(static_cast<int32_t>(cid)), v_wstr(upd)});
        got = d.expect_ok("ПолучитьКомпанию", u"ПолучитьКомпанию", {v_r8(static_cast<double>(cid))});
        check(contains(got, u8"ООО «Ромашка»"), "UpdateCompany changed TITLE", got.substr(0, 300));
        d.expect_ok("DeleteCompany", u"УдалитьКомпанию", {v_i4(static_cast<int32_t>(cid))});
    }

    // Sync at scale: upsert by GUID (idempotent), multi-field replace, bulk with the status line,
    // export.
    std::u16string up = u"{\"NAME\":\"Գևորգ\",\"UF_CRM_1723100443089\":\"host-guid-1\",\"PHONE\":[{\"VALUE\":\"+1\"}]}";
    e = d.expect_ok("UpsertContact (new)", u"ЗаписатьКонтакт", {v_wstr(up)});
    check(contains(e, "\"created\":true"), "UpsertContact creates first", e);
    std::string again = d.expect_ok("UpsertContact (again)", u"UpsertContact", {v_wstr(up)});
    check(contains(again, "\"created\":false"), "UpsertContact updates the second time", again);
    long long uid = 0;
    {
        size_t at = e.find("\"id\":");
        if (at != std::string::npos) uid = std::atoll(e.c_str() + at + 5);
    }
    check(uid > 0, "UpsertContact returns the id", e);
    std::u16string phone = u"PHONE";
    std::u16string phones = u"[\"+2\",{\"VALUE\":\"+3\",\"VALUE_TYPE\":\"MOBILE\"}]";
    std::string mf = d.expect_ok("SetContactMultiField", u"УстановитьМножественноеПолеКонтакта",
                                 {v_i8(uid), v_wstr(phone), v_wstr(phones)});
    check(contains(mf, "\"changed\":1") && contains(mf, "\"added\":1"), "SetContactMultiField reports its edits", mf);
    std::string after = d.expect_ok("GetContact after SetContactMultiField", u"GetContact", {v_i8(uid)});
    check(contains(after, "\"+2\"") && contains(after, "\"+3\"") && !contains(after, "\"+1\""), "the phones are exactly the list", after.substr(0, 400));
    std::u16string cup = u"{\"TITLE\":\"Ընկերություն\",\"UF_CRM_1723100288587\":\"host-company-1\"}";
    e = d.expect_ok("UpsertCompany", u"UpsertCompany", {v_wstr(cup)});
    long long ucid = 0;
    {
        size_t at = e.find("\"id\":");
        if (at != std::string::npos) ucid = std::atoll(e.c_str() + at + 5);
    }
    std::u16string email = u"EMAIL";
    std::u16string emails = u"[\"a@example.com\"]";
    d.expect_ok("SetCompanyMultiField", u"SetCompanyMultiField", {v_i8(ucid), v_wstr(email), v_wstr(emails)});
    int sets_before = d.conn_->status_sets;
    std::u16string recs = u"[{\"NAME\":\"A\",\"UF_CRM_1723100443089\":\"host-bulk-1\"},"
                          u"{\"NAME\":\"Б\",\"UF_CRM_1723100443089\":\"host-bulk-2\"},"
                          u"{\"NAME\":\"no guid\"}]";
    std::string bulk = d.expect_ok("BulkUpsertContacts", u"ЗаписатьКонтактыПакетом", {v_wstr(recs)});
    check(contains(bulk, "\"summary\":{\"created\":2,\"updated\":0,\"failed\":1,\"unknown\":0}"), "BulkUpsertContacts summary", bulk);
    check(d.conn_->status_sets > sets_before, "bulk progress shows in the status line");
    check(d.conn_->status_resets > 0, "the status line is reset afterwards");
    check(utf8(d.conn_->last_status) == "Bitrix24: 3 / 3", "the last status is the final count", utf8(d.conn_->last_status));
    std::u16string crecs = u"[{\"TITLE\":\"C\",\"UF_CRM_1723100288587\":\"host-company-2\"}]";
    d.expect_ok("BulkUpsertCompanies", u"BulkUpsertCompanies", {v_wstr(crecs)});
    std::u16string list = u"crm.contact.list";
    std::string ex = d.expect_ok("Export", u"Выгрузить", {v_wstr(list), v_empty(), v_empty(), v_empty()});
    check(contains(ex, "host-bulk") || contains(ex, "\"NAME\":\"A\""), "Export returns the rows", ex.substr(0, 300));
    std::u16string sel = u"{\"select\":[\"ID\",\"NAME\"]}";
    d.expect_ok("Export(select, pages 5)", u"Export", {v_wstr(list), v_wstr(sel), v_empty(), v_i4(5)});
    d.expect_error("Export(pages 99)", u"Export", {v_wstr(list), v_empty(), v_empty(), v_i4(99)}, "WRONG_PARAM_TYPE");
    // Changes since a cursor: the first pull (empty cursor) with reconcile, then a garbage cursor.
    std::string pulled = d.expect_ok("PullChanges", u"ПолучитьИзменения",
                                     {v_wstr(list), v_empty(), v_wstr(sel), v_empty(), v_bool(true)});
    check(contains(pulled, "\"cursor\":\"") && contains(pulled, "\"deleted\":[]"), "PullChanges returns a cursor", pulled.substr(0, 300));
    std::u16string junk = u"not-a-cursor";
    d.expect_error("PullChanges(garbage cursor)", u"PullChanges", {v_wstr(list), v_wstr(junk), v_empty(), v_empty(), v_empty()},
                   "INVALID_CURSOR");

    // Outbound events: parsed without the portal, token checked and never echoed.
    {
        std::u16string body = u"event=onCrmContactUpdate&data%5BFIELDS%5D%5BID%5D=41&auth%5Bapplication_token%5D=host-event-token";
        std::u16string form = u"application/x-www-form-urlencoded";
        std::u16string token = u"host-event-token";
        std::string ev = d.expect_ok("ParseEvent", u"РазобратьСобытие", {v_wstr(body), v_wstr(form), v_wstr(token)});
        check(contains(ev, "\"event\":\"ONCRMCONTACTUPDATE\"") && contains(ev, "\"id\":41") && contains(ev, "\"token_ok\":true"),
              "ParseEvent reads name, ID and token", ev);
        check(!contains(ev, "host-event-token"), "ParseEvent masks the token", ev);
        d.expect_ok("ParseEvent(body only)", u"ParseEvent", {v_wstr(body)});
        std::u16string forged = u"forged-token";
        d.expect_error("ParseEvent(wrong token)", u"ParseEvent", {v_wstr(body), v_empty(), v_wstr(forged)},
                       "INVALID_APPLICATION_TOKEN", "auth");
        check(!contains(d.last_error(), "host-event-token") && !contains(d.last_error(), "forged"), "LastError echoes no token",
              d.last_error());
    }

    // CallAsProc of a good call returns true and allocates nothing for 1C to free.
    size_t live = g_mem.live();
    long m = d.method(u"CheckConnection");
    check(d.c_->CallAsProc(m, nullptr, 0), "CallAsProc(CheckConnection) returns true");
    check(g_mem.live() == live, "CallAsProc leaves nothing allocated");

    // If the memory manager refuses, the call fails cleanly.
    g_mem.fail_next();
    tVariant ret = v_empty();
    check(!d.c_->CallAsFunc(m, &ret, nullptr, 0) && ret.vt == VTYPE_EMPTY, "a refused allocation makes CallAsFunc false");

    // An unreachable portal is a clean error, not a hang or crash.
    std::u16string dead = u"http://127.0.0.1:9/rest/1/abcdefghijkl/";
    check(d.set(u"Timeout", v_r8(3)), "set a short Timeout");
    bool r = false;
    std::string de = d.call(u"Connect", {v_wstr(dead)}, &r);
    if (env_ok(de)) {
        de = d.call(u"CheckConnection", {}, &r);
        check(r && !env_ok(de) && !d.last_error().empty(), "an unreachable portal gives an error envelope", de);
        check(!contains(de, "abcdefghijkl") && !contains(d.last_error(), "abcdefghijkl"), "the secret is not in the error", de);
    } else {
        check(r && !d.last_error().empty(), "Connect to an unreachable portal gives an error envelope", de);
    }
    // Setting WebhookURL reconnects; "" disconnects.
    check(d.set(u"АдресВебхука", v_wstr(url)), "set WebhookURL");
    check(contains(d.get_str(u"WebhookURL"), "***"), "WebhookURL masked after setting it");
    d.expect_ok("CheckConnection after setting WebhookURL", u"CheckConnection", {});
    std::u16string none = u"";
    check(d.set(u"WebhookURL", v_wstr(none)), "set WebhookURL to \"\"");
    d.expect_error("CheckConnection after clearing WebhookURL", u"CheckConnection", {}, "NOT_CONNECTED");
}

// Waits (bounded) for the add-in's "Done" event of `job`; returns whether it came.
static bool wait_done(RecordingConnection& conn, const std::string& job, int seconds) {
    std::string want = "{\"job\":\"" + job + "\"";
    for (int i = 0; i < seconds * 20; ++i) {
        for (const RecordedEvent& e : conn.snapshot()) {
            if (e.message == u"Done" && utf8(e.data).rfind(want, 0) == 0) return true;
        }
#ifdef _WIN32
        Sleep(50);
#else
        usleep(50 * 1000);
#endif
    }
    return false;
}

static std::string job_of(const std::string& envelope) { return json_str_field(envelope, "job"); }

static size_t count_of(const std::string& hay, const std::string& needle) {
    size_t n = 0;
    for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + needle.size())) ++n;
    return n;
}

// Records `[{"NAME": ..., GUID: prefix-i, "COMMENTS": filler}]` as BSL would build them.
static std::u16string records(const std::string& prefix, int n, size_t filler) {
    std::string out = "[";
    std::string pad(filler, 'x');
    for (int i = 0; i < n; ++i) {
        if (i) out += ",";
        out += "{\"NAME\":\"Job " + std::to_string(i) + "\",\"UF_CRM_1723100443089\":\"" + prefix + "-" +
               std::to_string(i) + "\",\"COMMENTS\":\"" + pad + "\"}";
    }
    return utf16(out + "]");
}

// The interface added for 1C developers: the journal, jobs on a worker thread reported by
// ExternalEvent, cancel, files as ДвоичныеДанные, large results, messages in Russian.
static void test_jobs_and_more(Driver& d, const std::string& webhook) {
    std::u16string url = utf16(webhook);
    std::u16string settings = u"{\"journal\":{\"lines\":200}}";
    std::string e = d.expect_ok("Connect with a journal", u"Connect", {v_wstr(url), v_wstr(settings)});
    check(contains(e, "\"webhook_url\""), "Connect names the URL webhook_url", e);
    e = d.expect_ok("CheckConnection", u"CheckConnection", {});
    check(contains(e, "\"webhook_url\":") && !contains(e, "\"webhook\":"), "CheckConnection names it webhook_url too", e);
    check(d.get_str(u"LastResponse") == e, "LastResponse is the envelope the call returned");
    check(d.depth_set(), "Init asked for an event buffer deeper than 1");

    // A job: Start returns at once, Progress and Done come as external events, JobResult hands
    // over what BulkUpsertContacts would have returned.
    std::u16string recs = records("host-job", 120, 10);
    std::string started = d.expect_ok("StartBulkUpsertContacts", u"НачатьЗаписьКонтактовПакетом", {v_wstr(recs)});
    std::string job = job_of(started);
    check(!job.empty(), "Start returns {\"job\": id}", started);
    std::u16string more = records("host-job-2", 1, 0);
    d.expect_error("a second Start while one runs", u"StartBulkUpsertContacts", {v_wstr(more)}, "JOB_RUNNING");
    check(wait_done(*d.conn_, job, 60), "the Done event of the job arrives", job);
    bool progress = false, sources = true;
    for (const RecordedEvent& ev : d.conn_->snapshot()) {
        sources = sources && ev.source == u"Bitrix24";
        progress = progress || (ev.message == u"Progress" && contains(utf8(ev.data), "\"total\":120"));
    }
    check(progress, "Progress events carry done and total");
    check(sources, "every event's source is Bitrix24");
    std::u16string jid = utf16(job);
    std::string res = d.expect_ok("JobResult", u"РезультатЗадания", {v_wstr(jid)});
    check(contains(res, "\"summary\":{\"created\":120,\"updated\":0,\"failed\":0,\"unknown\":0}"), "JobResult is the bulk envelope", res.substr(0, 300));
    d.expect_error("JobResult twice", u"JobResult", {v_wstr(jid)}, "JOB_NOT_FOUND");

    // Cancel: the job stops before its next request; what it did not send is CANCELLED.
    std::u16string big = records("host-cancel", 3000, 10);
    job = job_of(d.expect_ok("StartBulkUpsertContacts (3000)", u"StartBulkUpsertContacts", {v_wstr(big)}));
    std::u16string cid = utf16(job);
    d.expect_ok("CancelJob", u"ОтменитьЗадание", {v_wstr(cid)});
    check(wait_done(*d.conn_, job, 60), "a cancelled job still says Done", job);
    res = d.expect_ok("JobResult of the cancelled job", u"JobResult", {v_wstr(cid)});
    check(contains(res, "\"cancelled\":") && contains(res, "\"code\":\"CANCELLED\""), "unsent records are CANCELLED",
          res.substr(res.size() > 300 ? res.size() - 300 : 0));

    // A large result (over 1 MB) comes back whole: export the job's contacts with their comments.
    std::u16string wide = records("host-wide", 700, 1500);
    job = job_of(d.expect_ok("StartBulkUpsertContacts (wide)", u"StartBulkUpsertContacts", {v_wstr(wide)}));
    check(wait_done(*d.conn_, job, 120), "the wide job is done", job);
    jid = utf16(job);
    d.expect_ok("JobResult (wide)", u"JobResult", {v_wstr(jid)});
    std::u16string list = u"crm.contact.list";
    std::u16string params = u"{\"select\":[\"ID\",\"COMMENTS\",\"UF_CRM_1723100443089\"]}";
    job = job_of(d.expect_ok("StartExport", u"НачатьВыгрузку", {v_wstr(list), v_wstr(params), v_empty(), v_i4(2)}));
    check(wait_done(*d.conn_, job, 120), "the export job is done", job);
    jid = utf16(job);
    std::string rows = d.expect_ok("JobResult (export)", u"JobResult", {v_wstr(jid)});
    check(rows.size() > (1u << 20), "the export's envelope is over 1 MB", std::to_string(rows.size()));
    check(count_of(rows, "\"host-wide-") == 700 && contains(rows, "\"host-wide-699\"") && rows.back() == '}',
          "every row came back, the envelope is whole", std::to_string(count_of(rows, "\"host-wide-")));
    check(d.get_str(u"ПоследнийОтвет") == rows, "LastResponse holds the same large envelope");

    // ДвоичныеДанные: a file crosses as bytes, not as a base64 string.
    std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
    std::u16string fname = u"logo.png";
    std::string added = d.expect_ok("AddFile", u"ДобавитьФайл", {v_wstr(fname), v_blob(png)});
    std::string file_id = json_str_field(added, "fileId");
    check(!file_id.empty() && contains(added, "\"size\":16"), "AddFile returns fileId and size", added);
    std::u16string with_file = utf16("{\"NAME\":\"С фото\",\"PHOTO\":{\"fileId\":\"" + file_id + "\"}}");
    d.expect_ok("CreateContact with a fileId", u"CreateContact", {v_wstr(with_file)});
    std::string removed = d.expect_ok("RemoveFiles", u"УдалитьФайлы", {});
    check(env_result_int(removed) == 1, "RemoveFiles frees the one file", removed);
    d.expect_error("a removed fileId", u"CreateContact", {v_wstr(with_file)}, "UNKNOWN_FILE_ID");
    std::string body = "event=onCrmCompanyAdd&data%5BFIELDS%5D%5BID%5D=5";
    std::string ev = d.expect_ok("ParseEvent(ДвоичныеДанные)", u"ParseEvent", {v_blob(body)});
    check(contains(ev, "\"id\":5"), "ParseEvent reads a binary body", ev);

    // The journal: a line per request, the secret masked.
    std::string journal = d.get_str(u"Журнал");
    std::string secret = secret_of(webhook);
    check(contains(journal, "\tbatch\t200\t") && contains(journal, "\tscope\t200\t"), "the journal has a line per request",
          journal.substr(0, 300));
    check(secret.empty() || !contains(journal, secret), "the journal never shows the secret");
}

static IComponentBase* create(const Lib& lib, const std::string& what) {
    IComponentBase* obj = nullptr;
    long r = lib.GetClassObject(u"Bitrix24", &obj);
    check(r != 0 && obj != nullptr, what + ": GetClassObject(Bitrix24)");
    return obj;
}

static void destroy(const Lib& lib, IComponentBase*& obj, const std::string& what) {
    check(lib.DestroyObject(&obj) == 0, what + ": DestroyObject returns 0");
    check(obj == nullptr, what + ": DestroyObject nulls the pointer");
}

#ifndef _WIN32
// Many sessions in one process: each thread its own object; the library state is shared.
static void test_threads(const Lib& lib, const std::string& webhook) {
    std::atomic<int> bad(0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&lib, &webhook, &bad]() {
            for (int i = 0; i < 3; ++i) {
                IComponentBase* obj = nullptr;
                if (!lib.GetClassObject(u"Bitrix24", &obj) || !obj) { ++bad; return; }
                RecordingConnection conn;
                obj->setMemManager(&g_mem);
                obj->Init(&conn);
                std::u16string url = utf16(webhook);
                tVariant p[2] = {v_wstr(url), v_empty()};
                tVariant ret = v_empty();
                long m = obj->FindMethod(u"Connect");
                if (!obj->CallAsFunc(m, &ret, p, 2)) ++bad;
                if (ret.vt == VTYPE_PWSTR) { void* pp = ret.wstr.pwstrVal; g_mem.FreeMemory(&pp); }
                ret = v_empty();
                if (!obj->CallAsFunc(obj->FindMethod(u"CheckConnection"), &ret, nullptr, 0)) ++bad;
                if (ret.vt == VTYPE_PWSTR) {
                    std::string e = utf8(std::u16string(ret.wstr.pwstrVal, ret.wstr.wstrLen));
                    if (!env_ok(e)) ++bad;
                    void* pp = ret.wstr.pwstrVal;
                    g_mem.FreeMemory(&pp);
                } else {
                    ++bad;
                }
                obj->Done();
                if (lib.DestroyObject(&obj) != 0) ++bad;
            }
        });
    }
    for (auto& th : threads) th.join();
    check(bad == 0, "4 threads x 3 objects connect, call and destroy", std::to_string(bad.load()) + " failures");
}
#endif

// B24_HOST_MODE=job: one "isolated" process as 1C's server runs them, each loading its own copy
// of the add-in. It connects with B24_HOST_SETTINGS, upserts B24_HOST_RECORDS records with the
// GUIDs B24_HOST_PREFIX-<i> through a worker-thread job, and prints the job's envelope on the
// line "addin host job: {...}". tests/addin_host.rs runs two at once against one portal.
static int job_mode(const Lib& lib, const std::string& webhook) {
    const char* settings_env = std::getenv("B24_HOST_SETTINGS");
    const char* prefix_env = std::getenv("B24_HOST_PREFIX");
    const char* count_env = std::getenv("B24_HOST_RECORDS");
    std::u16string settings = utf16(settings_env ? settings_env : "");
    std::string prefix = prefix_env ? prefix_env : "host-proc";
    int n = count_env ? std::atoi(count_env) : 100;
    IComponentBase* obj = create(lib, "job object");
    if (!obj) return 1;
    RecordingConnection conn;
    obj->setMemManager(&g_mem);
    obj->Init(&conn);
    Driver d(obj, &conn);
    std::u16string url = utf16(webhook);
    d.expect_ok("Connect", u"Connect", {v_wstr(url), v_wstr(settings)});
    std::u16string recs = records(prefix, n, 10);
    std::string job = job_of(d.expect_ok("StartBulkUpsertContacts", u"StartBulkUpsertContacts", {v_wstr(recs)}));
    check(wait_done(conn, job, 150), "the job is done", job);
    std::u16string jid = utf16(job);
    std::string res = d.expect_ok("JobResult", u"JobResult", {v_wstr(jid)});
    std::printf("addin host job: %s\n", res.c_str());
    obj->Done();
    destroy(lib, obj, "job object");
    std::printf("addin host: %d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s <library> <webhook-url> <expected-version>\n", argv[0]);
        return 2;
    }
    const std::string webhook = argv[2];
    const std::string version = argv[3];
    const bool offline = std::getenv("B24_HOST_OFFLINE") != nullptr;
    g_verbose = std::getenv("B24_HOST_VERBOSE") != nullptr;

#ifdef _WIN32
    void* handle = reinterpret_cast<void*>(LoadLibraryA(argv[1]));
#else
    void* handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
#endif
    if (!handle) {
#ifdef _WIN32
        std::fprintf(stderr, "LoadLibrary failed: error %lu\n", static_cast<unsigned long>(GetLastError()));
#else
        std::fprintf(stderr, "dlopen failed: %s\n", dlerror());
#endif
        std::printf("addin host: 0 passed, 1 failed\n");
        return 1;
    }
    Lib lib;
    lib.GetClassNames = sym<GetClassNamesFn>(handle, "GetClassNames");
    lib.GetClassObject = sym<GetClassObjectFn>(handle, "GetClassObject");
    lib.DestroyObject = sym<DestroyObjectFn>(handle, "DestroyObject");
    lib.SetPlatformCapabilities = sym<SetPlatformCapabilitiesFn>(handle, "SetPlatformCapabilities");
    lib.GetAttachType = sym<GetAttachTypeFn>(handle, "GetAttachType");
    check(lib.GetClassNames && lib.GetClassObject && lib.DestroyObject && lib.SetPlatformCapabilities && lib.GetAttachType,
          "all five exports are present");
    if (g_failed) {
        std::printf("addin host: %d passed, %d failed\n", g_passed, g_failed);
        return 1;
    }

    const char* mode = std::getenv("B24_HOST_MODE");
    if (mode && std::string(mode) == "job") return job_mode(lib, webhook);

    // The platform's sequence.
    check(lib.SetPlatformCapabilities(3) == 3, "SetPlatformCapabilities(3) returns 3");
    check(lib.GetAttachType() == 3, "GetAttachType is eCanAttachAny (3)");
    const WCHAR_T* names = lib.GetClassNames();
    check(names && std::u16string(names) == u"Bitrix24", "GetClassNames is Bitrix24");

    IComponentBase* bogus = nullptr;
    check(lib.GetClassObject(u"Nope", &bogus) == 0 && bogus == nullptr, "GetClassObject of an unknown class fails");
    check(lib.GetClassObject(u"Bitrix24", nullptr) == 0, "GetClassObject with a NULL out-pointer fails");
    check(lib.GetClassObject(nullptr, &bogus) == 0, "GetClassObject with a NULL name fails");

    IComponentBase* obj = create(lib, "main object");
    if (!obj) {
        std::printf("addin host: %d passed, %d failed\n", g_passed, g_failed);
        return 1;
    }
    RecordingConnection conn;
    check(obj->setMemManager(&g_mem), "setMemManager returns true");
    check(obj->Init(static_cast<IAddInDefBase*>(&conn)), "Init returns true");
    check(obj->GetInfo() == 2000, "GetInfo is 2000");
    WCHAR_T* ext = nullptr;
    check(obj->RegisterExtensionAs(&ext), "RegisterExtensionAs returns true");
    check(take_name(ext, "RegisterExtensionAs") == u"Bitrix24", "RegisterExtensionAs gives Bitrix24 (= GetClassNames)");
    check(!obj->RegisterExtensionAs(nullptr), "RegisterExtensionAs(NULL) is false");
    obj->SetLocale(u"ru_RU");
    obj->SetLocale(nullptr);
    obj->SetUserInterfaceLanguageCode(u"ru");

    Driver d(obj, &conn);
    test_enumeration(obj);
    test_properties_offline(d, version);
    d.expect_error("CheckConnection before Connect", u"CheckConnection", {}, "NOT_CONNECTED");
    std::u16string fields = u"{\"NAME\":\"x\"}";
    d.expect_error("CreateContact before Connect", u"CreateContact", {v_wstr(fields)}, "NOT_CONNECTED");
    test_language(d, obj);
    test_bad_params(d);
    test_throw(d);
    if (!offline) {
        test_connected(d, webhook);
        test_jobs_and_more(d, webhook);
    }
    obj->Done();
    destroy(lib, obj, "main object");
    check(lib.DestroyObject(&obj) != 0, "DestroyObject of a NULL object fails cleanly");
    check(lib.DestroyObject(nullptr) != 0, "DestroyObject(NULL) fails cleanly");

    // An object whose platform never set a memory manager: nothing can be returned, nothing
    // is malloc'ed behind 1C's back.
    IComponentBase* bare = create(lib, "object without a memory manager");
    if (bare) {
        RecordingConnection conn2;
        bare->Init(&conn2);
        WCHAR_T* n = nullptr;
        check(!bare->RegisterExtensionAs(&n) && n == nullptr, "no memory manager: RegisterExtensionAs is false");
        tVariant v = v_empty();
        check(!bare->GetPropVal(bare->FindProp(u"Version"), &v) && v.vt == VTYPE_EMPTY, "no memory manager: string GetPropVal is false");
        check(bare->GetPropVal(bare->FindProp(u"ThrowExceptions"), &v) && v.vt == VTYPE_BOOL, "no memory manager: boolean GetPropVal works");
        check(bare->GetMethodName(0, 0) == nullptr, "no memory manager: GetMethodName is NULL");
        v = v_empty();
        check(!bare->CallAsFunc(bare->FindMethod(u"CheckConnection"), &v, nullptr, 0) && v.vt == VTYPE_EMPTY,
              "no memory manager: CallAsFunc is false");
        check(!bare->setMemManager(nullptr), "setMemManager(NULL) is false");
        bare->Done();
        destroy(lib, bare, "object without a memory manager");
    }

#ifndef _WIN32
    // Hosts that `delete` the interface (OneScript does) go through the destructor slots, from
    // the primary and from a secondary base.
    IComponentBase* del1 = create(lib, "object deleted via IComponentBase");
    if (del1) {
        del1->setMemManager(&g_mem);
        delete del1;
        check(true, "delete through the primary base's deleting destructor");
    }
    IComponentBase* del2 = create(lib, "object deleted via LocaleBase");
    if (del2) {
        LocaleBase* lb = del2;
        delete lb;
        check(true, "delete through a secondary base's deleting destructor");
    }
    if (!offline) {
        test_threads(lib, webhook);
    }
#endif

    check(g_mem.live() == 0, "every allocation was freed", std::to_string(g_mem.live()) + " still live");
    check(g_mem.allocs() == g_mem.frees(), "allocations == frees",
          std::to_string(g_mem.allocs()) + " allocs, " + std::to_string(g_mem.frees()) + " frees");
    // The library stays loaded: 1C keeps add-ins for the process lifetime, and unloading code
    // while the HTTP pools' threads may still run would test nothing useful.
    std::printf("addin host: %zu allocations checked, %d AddError calls\n", g_mem.allocs(), static_cast<int>(conn.errors.size()));
    std::printf("addin host: %d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
