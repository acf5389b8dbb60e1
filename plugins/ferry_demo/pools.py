"""The demo warehouse's value pools: names, places, companies, leads, and values that break
naive writers (quotes, newlines, tabs, emoji, '' and NULL)."""

from __future__ import annotations

EVENTS_PER_LEAD = 3
WINDOW_START = "2026-01-01 00:00:00"
WINDOW_SECONDS = 327 * 86_400  # 2026-01-01 up to the end of 2026-11-23
LEAD_DELIVERY_MAX_SECONDS = 900

# --- Value pools -------------------------------------------------------------------------

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Maria", "José", "Zoë", "Łukasz", "Sofía", "François",
    "Björn", "Anaïs", "Chloé", "Søren", "Mei", "伟", "Hiroshi", "Priya", "Aarav", "Olivia",
    "Noah", "Emma", "Liam", "Ava", "Mohammed", "Fatima", "Jean-Luc", "Anne-Marie", "Ngozi",
    "João", "Ingrid", "Siobhán",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernández", "López", "Müller", "Schmidt", "O'Brien", "D'Angelo", "McDonald",
    "Nguyen", "Kim", "李", "王", "Tanaka", "Suzuki", "Patel", "Sharma", "Kowalski",
    "Wiśniewski", "Dubois", "Lefèvre", "Silva", "Gonçalves", "van der Berg", "Smith-Jones",
    "Öztürk", "Ødegaard", "Nowak", "Rossi", "Ivanov", "Okafor", "Taylor", "Anderson",
)  # fmt: skip
# Names whose letters do not decompose to ASCII, spelled for email addresses.
ASCII_SPELLINGS = {"伟": "wei", "李": "li", "王": "wang", "Łukasz": "lukasz", "Søren": "soren",
                   "Ødegaard": "odegaard"}  # fmt: skip

EMAIL_DOMAINS = {
    "gmail.com": 40, "yahoo.com": 12, "outlook.com": 10, "hotmail.com": 8, "icloud.com": 8,
    "aol.com": 3, "proton.me": 3, "comcast.net": 3, "gmx.de": 3, "web.de": 2, "orange.fr": 2,
    "yahoo.co.jp": 2, "qq.com": 2, "uol.com.br": 2,
}  # fmt: skip
PLUS_TAGS = ("news", "shop", "promo", "2026", "ferry")

# US cities as (city, state, the first 3 digits of their ZIP codes).
US_LOCATIONS = (
    ("New York", "NY", "100"), ("Brooklyn", "NY", "112"), ("Los Angeles", "CA", "900"),
    ("San Francisco", "CA", "941"), ("San Diego", "CA", "921"), ("Houston", "TX", "770"),
    ("Austin", "TX", "787"), ("Dallas", "TX", "752"), ("San Antonio", "TX", "782"),
    ("Miami", "FL", "331"), ("Orlando", "FL", "328"), ("Tampa", "FL", "336"),
    ("Chicago", "IL", "606"), ("Phoenix", "AZ", "850"), ("Philadelphia", "PA", "191"),
    ("Seattle", "WA", "981"), ("Denver", "CO", "802"), ("Boston", "MA", "021"),
    ("Atlanta", "GA", "303"), ("Newark", "NJ", "071"), ("Portland", "ME", "041"),
    ("Hartford", "CT", "061"), ("Nashville", "TN", "372"), ("Columbus", "OH", "432"),
    ("Detroit", "MI", "482"), ("Las Vegas", "NV", "891"), ("Charlotte", "NC", "282"),
    ("Minneapolis", "MN", "554"),
)  # fmt: skip
# Other cities as (country, city, state or NULL, postal code, dialing code).
OTHER_LOCATIONS = (
    ("CA", "Toronto", "ON", "M5V 2T6", "1"), ("CA", "Montréal", "QC", "H2X 1Y4", "1"),
    ("CA", "Vancouver", "BC", "V6B 1A1", "1"), ("GB", "London", None, "SW1A 1AA", "44"),
    ("GB", "Manchester", None, "M1 1AE", "44"), ("DE", "Berlin", None, "10115", "49"),
    ("DE", "München", None, "80331", "49"), ("DE", "Köln", None, "50667", "49"),
    ("FR", "Paris", None, "75001", "33"), ("FR", "Lyon", None, "69001", "33"),
    ("MX", "Ciudad de México", None, "06600", "52"), ("MX", "Guadalajara", None, "44100", "52"),
    ("BR", "São Paulo", None, "01310-100", "55"), ("BR", "Rio de Janeiro", None, "20040-002", "55"),
    ("JP", "Tokyo", None, "100-0001", "81"), ("JP", "Ōsaka", None, "530-0001", "81"),
    ("AU", "Sydney", "NSW", "2000", "61"), ("AU", "Melbourne", "VIC", "3000", "61"),
    ("IN", "Mumbai", None, "400001", "91"), ("IN", "Bengaluru", None, "560001", "91"),
)  # fmt: skip
US_LOCATION_WEIGHT = 5  # each US city counts 5 times, each other city twice: ~75% US
OTHER_LOCATION_WEIGHT = 2

LOYALTY_TIER_FLOORS = ((9000, "platinum"), (4500, "gold"), (1000, "silver"))
CUSTOMER_NOTES = (
    "VIP; prefers SMS", "Asked about returns", "Moved last year", "Gift buyer",
    "Requested catalog", "Prefers weekend delivery", "Referred by a friend",
)  # fmt: skip

COMPANY_NAMES = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark Industries", "Wayne Enterprises", "Hooli",
    "Vandelay", "Soylent", "Nordwind", "Müller & Söhne", "O'Reilly Partners", "Société Générale",
    "Tōkai Trading", "Blue Harbor", "Pied Piper", "Cyberdyne", "Aperture", "Wonka", "Gringotts",
)  # fmt: skip
COMPANY_SUFFIXES = ("Inc.", "LLC", "Corp.", "Ltd", "GmbH", "S.A.", "K.K.", "Group", "Co.")
COMPANY_TLDS = (".com", ".com", ".com", ".io", ".net", ".co", ".de", ".co.uk")
INDUSTRIES = (
    "Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Insurance",
    "Real Estate", "Education", "Logistics", "Energy", "Media", "Telecommunications",
    "Hospitality", "Legal Services", "Food & Beverage",
)  # fmt: skip
JOB_TITLES = (
    "CEO", "CTO", "CFO", "VP of Marketing", "Marketing Manager", "Head of Growth",
    "Data Engineer", "Sales Director", "Account Executive", "Operations Manager",
    "Product Manager", "Customer Success Manager", "IT Director", "Procurement Specialist",
    "Chief Revenue Officer",
)  # fmt: skip

LEAD_SOURCES = {"google_ads": 30, "facebook": 20, "organic": 15, "referral": 10,
                "partner_api": 15, "tiktok": 5, "email": 5}  # fmt: skip
LEAD_CAMPAIGNS = (
    "spring_sale_2026", "auto_q1_2026", "home_refi_2026", "summer_solar", "back_to_school",
    "black_friday_2026", "evergreen", "retargeting_30d",
)  # fmt: skip
PRODUCT_TYPES = ("auto_insurance", "home_insurance", "mortgage", "solar", "personal_loan",
                 "health_insurance")  # fmt: skip
LEAD_OUTCOMES = {"success": 68, "failure": 24, "error": 8}
LEAD_COMMENTS = (
    "Wants a quote for two cars", "Call after 6pm", "Existing customer", "Spanish speaker",
    "Duplicate of an earlier lead?", "Interested in bundling",
)  # fmt: skip
RECIPIENTS = ("acme_insurance", "bluewave_mortgage", "sunpower_direct", "shield_health",
              "lendwell", "homeguard")  # fmt: skip
FILTER_REASONS = ("dedupe: passed", "state allowed", "phone validated", "age check passed")
REJECT_REASONS = ("duplicate lead", "outside service area", "invalid phone", "daily cap reached",
                  "recipient paused")  # fmt: skip
ERROR_REASONS = ("timeout after 30s", "HTTP 500 from recipient", "TLS handshake failed",
                 "connection reset by peer")  # fmt: skip

# --- Values that break naive writers -------------------------------------------------------

# One value of each kind a test checks for; names get name-like ones. Every column that is
# sprinkled gets all of them, in turn, at every period-th row.
NASTY_TEXTS = (
    "Prefers email, not phone, after 5pm",
    'Said "please stop calling"',
    "First line\nsecond line",
    "Windows line\r\nsecond line",
    "before\tafter a tab",
    "  leading and trailing spaces  ",
    "Café déjà vu \u2013 naïve Straße",
    "Great customer 🎉🚀",
    "",
    None,
    'He said, "ok"\r\nthen left\t',
    "C:\\Users\\new\\table; a|b",
    "=SUM(A1:A2)",
    "NULL",
)
NASTY_NAMES = (
    "Smith, Jr.",
    'Robert "Bob"',
    "Mary\nJane",
    "Anne\r\nMarie",
    "Zoë\tJones",
    "  José  ",
    "Łukasz Wiśniewski",
    "Kim 😀",
    "",
    None,
)
