//! Keyboard layout identifiers (KLIDs) as an RDP client reports them, and the language and
//! country each one belongs to.
//!
//! The client sends its active keyboard layout in TS_UD_CS_CORE `keyboardLayout`
//! (MS-RDPBCGR 2.2.1.3.2). A KLID is eight hex digits: the low four are the language identifier
//! (LANGID) the layout was made for and the high four select a variant of it, e.g. `00000409`
//! is the default US English layout and `00010409` its Dvorak variant (Microsoft,
//! IMsTscAdvancedSettings::KeyBoardLayoutStr; the layouts themselves are listed in "Windows
//! keyboard layouts", learn.microsoft.com/globalization/windows-keyboard-layouts). IME layouts
//! keep the same low half (`E0010412` is the Korean IME for LANGID 0x0412), so the table below
//! maps LANGIDs, taken from MS-LCID 2.2 (language name and the country or region of the
//! locale), and every variant of a listed language resolves to it.
//!
//! A layout says which keyboard the client machine is set up for, not where it is: the US
//! layout is the default across much of the world, and a traveller keeps their layout. The
//! country is a fact to compare with a claimed residence, never a location.

/// Mask of the language identifier in a KLID or input locale handle (the low 16 bits, per
/// IMsTscAdvancedSettings::KeyBoardLayoutStr and MS-LCID 2.2).
const LANGID_MASK: u32 = 0xFFFF;

/// LANGID → (language, ISO 3166-1 alpha-2 country of the locale), sorted by LANGID. Values from
/// MS-LCID 2.2; only languages with a Windows keyboard layout of their own are listed. Where
/// MS-LCID names the withdrawn code CS (Serbia and Montenegro) for a Serbian locale, the country
/// given is RS, its successor for Serbia.
const LANGUAGES: &[(u16, &str, &str)] = &[
    (0x0401, "Arabic", "SA"),
    (0x0402, "Bulgarian", "BG"),
    (0x0403, "Catalan", "ES"),
    (0x0404, "Chinese (Traditional)", "TW"),
    (0x0405, "Czech", "CZ"),
    (0x0406, "Danish", "DK"),
    (0x0407, "German", "DE"),
    (0x0408, "Greek", "GR"),
    (0x0409, "English", "US"),
    (0x040A, "Spanish", "ES"),
    (0x040B, "Finnish", "FI"),
    (0x040C, "French", "FR"),
    (0x040D, "Hebrew", "IL"),
    (0x040E, "Hungarian", "HU"),
    (0x040F, "Icelandic", "IS"),
    (0x0410, "Italian", "IT"),
    (0x0411, "Japanese", "JP"),
    (0x0412, "Korean", "KR"),
    (0x0413, "Dutch", "NL"),
    (0x0414, "Norwegian", "NO"),
    (0x0415, "Polish", "PL"),
    (0x0416, "Portuguese", "BR"),
    (0x0418, "Romanian", "RO"),
    (0x0419, "Russian", "RU"),
    (0x041A, "Croatian", "HR"),
    (0x041B, "Slovak", "SK"),
    (0x041C, "Albanian", "AL"),
    (0x041D, "Swedish", "SE"),
    (0x041E, "Thai", "TH"),
    (0x041F, "Turkish", "TR"),
    (0x0420, "Urdu", "PK"),
    (0x0421, "Indonesian", "ID"),
    (0x0422, "Ukrainian", "UA"),
    (0x0423, "Belarusian", "BY"),
    (0x0424, "Slovenian", "SI"),
    (0x0425, "Estonian", "EE"),
    (0x0426, "Latvian", "LV"),
    (0x0427, "Lithuanian", "LT"),
    (0x0428, "Tajik", "TJ"),
    (0x0429, "Persian", "IR"),
    (0x042A, "Vietnamese", "VN"),
    (0x042B, "Armenian", "AM"),
    (0x042C, "Azerbaijani (Latin)", "AZ"),
    (0x042F, "Macedonian", "MK"),
    (0x0437, "Georgian", "GE"),
    (0x0438, "Faroese", "FO"),
    (0x0439, "Hindi", "IN"),
    (0x043A, "Maltese", "MT"),
    (0x043E, "Malay", "MY"),
    (0x043F, "Kazakh", "KZ"),
    (0x0440, "Kyrgyz", "KG"),
    (0x0442, "Turkmen", "TM"),
    (0x0443, "Uzbek (Latin)", "UZ"),
    (0x0444, "Tatar", "RU"),
    (0x0445, "Bangla", "IN"),
    (0x0449, "Tamil", "IN"),
    (0x044A, "Telugu", "IN"),
    (0x0450, "Mongolian (Cyrillic)", "MN"),
    (0x0452, "Welsh", "GB"),
    (0x045B, "Sinhala", "LK"),
    (0x0461, "Nepali", "NP"),
    (0x0463, "Pashto", "AF"),
    (0x0465, "Divehi", "MV"),
    (0x046F, "Greenlandic", "GL"),
    (0x0481, "Maori", "NZ"),
    (0x0804, "Chinese (Simplified)", "CN"),
    (0x0807, "German", "CH"),
    (0x0809, "English", "GB"),
    (0x080A, "Spanish", "MX"),
    (0x080C, "French", "BE"),
    (0x0813, "Dutch", "BE"),
    (0x0816, "Portuguese", "PT"),
    (0x081A, "Serbian (Latin)", "RS"),
    (0x082C, "Azerbaijani (Cyrillic)", "AZ"),
    (0x0843, "Uzbek (Cyrillic)", "UZ"),
    (0x0C04, "Chinese (Traditional)", "HK"),
    (0x0C0C, "French", "CA"),
    (0x0C1A, "Serbian (Cyrillic)", "RS"),
    (0x1004, "Chinese (Simplified)", "SG"),
    (0x1009, "English", "CA"),
    (0x100C, "French", "CH"),
    (0x1404, "Chinese (Traditional)", "MO"),
    (0x141A, "Bosnian (Latin)", "BA"),
    (0x1809, "English", "IE"),
    (0x201A, "Bosnian (Cyrillic)", "BA"),
];

/// The language and the ISO 3166-1 alpha-2 country of the locale a keyboard layout belongs to,
/// e.g. `0x00000412` → ("Korean", "KR"); `None` for a layout whose language is not listed.
pub(crate) fn keyboard_country(klid: u32) -> Option<(&'static str, &'static str)> {
    let langid = u16::try_from(klid & LANGID_MASK).ok()?;
    let i = LANGUAGES
        .binary_search_by_key(&langid, |&(id, _, _)| id)
        .ok()?;
    LANGUAGES
        .get(i)
        .map(|&(_, language, country)| (language, country))
}

/// `0x00000412 (Korean, KR)`, or the hex value alone for an unlisted language.
pub(super) fn describe(klid: u32) -> String {
    match keyboard_country(klid) {
        Some((language, country)) => format!("0x{klid:08x} ({language}, {country})"),
        None => format!("0x{klid:08x}"),
    }
}

/// keyboardType values 1–7 (MS-RDPBCGR 2.2.1.3.2), indexed from 1.
const KEYBOARD_TYPES: [&str; 7] = [
    "IBM PC/XT or compatible, 83-key",
    "Olivetti ICO, 102-key",
    "IBM PC/AT, 84-key",
    "IBM enhanced, 101- or 102-key",
    "Nokia 1050 and similar",
    "Nokia 9140 and similar",
    "Japanese",
];

/// The name of a TS_UD_CS_CORE keyboardType, `None` outside the values the spec defines.
pub(super) fn keyboard_type_name(t: u32) -> Option<&'static str> {
    let i = usize::try_from(t.checked_sub(1)?).ok()?;
    KEYBOARD_TYPES.get(i).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_large_enough() {
        assert!(LANGUAGES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(LANGUAGES.len() >= 40);
        for &(id, language, country) in LANGUAGES {
            assert!(!language.is_empty(), "0x{id:04x}");
            assert!(
                country.len() == 2 && country.bytes().all(|c| c.is_ascii_uppercase()),
                "0x{id:04x} {country}"
            );
        }
    }

    #[test]
    fn common_layouts() {
        assert_eq!(keyboard_country(0x0000_0409), Some(("English", "US")));
        assert_eq!(keyboard_country(0x0000_0412), Some(("Korean", "KR")));
        assert_eq!(keyboard_country(0x0000_0419), Some(("Russian", "RU")));
        assert_eq!(
            keyboard_country(0x0000_0804),
            Some(("Chinese (Simplified)", "CN"))
        );
        assert_eq!(keyboard_country(0x0000_0809), Some(("English", "GB")));
        assert_eq!(keyboard_country(0x0000_0807), Some(("German", "CH")));
        assert_eq!(keyboard_country(0x0000_080A), Some(("Spanish", "MX")));
        assert_eq!(keyboard_country(0x0000_1009), Some(("English", "CA")));
        assert_eq!(keyboard_country(0x0000_0429), Some(("Persian", "IR")));
    }

    #[test]
    fn variants_and_imes_resolve_through_their_language() {
        // US-Dvorak, US-International, Russian (Typewriter), Korean and Japanese IMEs.
        assert_eq!(keyboard_country(0x0001_0409), Some(("English", "US")));
        assert_eq!(keyboard_country(0x0002_0409), Some(("English", "US")));
        assert_eq!(keyboard_country(0x0001_0419), Some(("Russian", "RU")));
        assert_eq!(keyboard_country(0xE001_0412), Some(("Korean", "KR")));
        assert_eq!(keyboard_country(0xE001_0411), Some(("Japanese", "JP")));
    }

    #[test]
    fn unknown_layouts_are_hex_only() {
        // ADLaM (00140C00) carries no language of its own; 0x0000 and 0xFFFF are no LANGID.
        assert_eq!(keyboard_country(0x0014_0C00), None);
        assert_eq!(keyboard_country(0), None);
        assert_eq!(keyboard_country(0xFFFF_FFFF), None);
        assert_eq!(describe(0x0014_0C00), "0x00140c00");
        assert_eq!(describe(0x0000_0412), "0x00000412 (Korean, KR)");
    }

    #[test]
    fn keyboard_types() {
        assert_eq!(keyboard_type_name(4), Some("IBM enhanced, 101- or 102-key"));
        assert_eq!(keyboard_type_name(7), Some("Japanese"));
        assert_eq!(keyboard_type_name(0), None);
        assert_eq!(keyboard_type_name(8), None);
    }
}
